"""FEAR's threshold (Dey et al. 2021, Section 3): the training accuracy a fast, shallow learner reaches on
hand-crafted features, "non-trivial yet not too difficult to beat" (HoG features into two hidden fully
connected layers reached 0.6 on CIFAR-10, 0.3 on CIFAR-100, 0.2 on ImageNet16-120).

HoG here (Dalal and Triggs 2005, simplified): grey-level gradients by central differences, per cell of
`cell` x `cell` pixels a histogram of unsigned orientations in `bins` bins weighted by gradient
magnitude, each cell's histogram L2-normalised (no block overlap). The learner: an MLP with two hidden
ReLU layers trained with Adam on the whole training split; the threshold is its final training accuracy.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset

from runtime.seeds import VALIDATION, derive_seed

_LEARNER = 11  # (VALIDATION, 11): the shallow learner's weights and data order


@dataclass(frozen=True)
class ThresholdSettings:
    """The shallow learner's features and budget."""

    cell: int = 8
    bins: int = 9
    hidden: tuple[int, int] = (256, 128)
    epochs: int = 10
    batch_size: int = 256
    lr: float = 1e-3


def hog(images: torch.Tensor, cell: int = 8, bins: int = 9) -> torch.Tensor:
    """HoG features (N, cells_y * cells_x * bins) of images (N, C, H, W) (channels averaged to grey)."""
    grey = images.float().mean(1, keepdim=True)
    gx = F.pad(grey, (1, 1, 0, 0), mode="replicate")
    gy = F.pad(grey, (0, 0, 1, 1), mode="replicate")
    dx = (gx[..., :, 2:] - gx[..., :, :-2]) / 2
    dy = (gy[..., 2:, :] - gy[..., :-2, :]) / 2
    mag = torch.sqrt(dx ** 2 + dy ** 2)
    angle = torch.remainder(torch.atan2(dy, dx), math.pi)  # unsigned orientation in [0, pi)
    index = torch.clamp((angle / math.pi * bins).long(), max=bins - 1)
    onehot = F.one_hot(index.squeeze(1), bins).permute(0, 3, 1, 2).float() * mag  # (N, bins, H, W)
    hist = F.avg_pool2d(onehot, cell) * cell * cell  # (N, bins, H/cell, W/cell): sums per cell
    hist = hist / (hist.norm(dim=1, keepdim=True) + 1e-6)
    return hist.flatten(1)


def learner(features: int, classes: int, hidden: tuple[int, int]) -> nn.Module:
    """The shallow learner: two hidden ReLU layers."""
    return nn.Sequential(nn.Linear(features, hidden[0]), nn.ReLU(), nn.Linear(hidden[0], hidden[1]), nn.ReLU(),
                         nn.Linear(hidden[1], classes))


def derive_threshold(dataset: Dataset, num_classes: int, seed: int,
                     settings: ThresholdSettings = ThresholdSettings()) -> dict[str, float]:
    """Train the shallow learner on HoG features of `dataset`; its final training accuracy is the threshold."""
    images, labels = zip(*(dataset[i] for i in range(len(dataset))))  # type: ignore[arg-type]
    x = hog(torch.stack(images), settings.cell, settings.bins)
    y = torch.as_tensor(labels, dtype=torch.long)
    torch.manual_seed(derive_seed(seed, VALIDATION, _LEARNER))
    model = learner(x.shape[1], num_classes, settings.hidden)
    opt = torch.optim.Adam(model.parameters(), lr=settings.lr)
    order = torch.Generator().manual_seed(derive_seed(seed, VALIDATION, _LEARNER, 1))
    pairs = list(zip(x, y))
    for _ in range(settings.epochs):
        for xb, yb in DataLoader(pairs, batch_size=settings.batch_size, shuffle=True, generator=order):  # type: ignore
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(model(xb), yb).backward()
            opt.step()
    with torch.no_grad():
        acc = float((model(x).argmax(1) == y).float().mean())
    return {"threshold": acc, "images": len(y), "features": x.shape[1], "epochs": settings.epochs}
