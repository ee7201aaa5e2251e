"""Seeded minibatch streams for scoring: the same seed gives the same batches on the same machine."""
from __future__ import annotations

import logging

import torch
from torch.utils.data import Dataset

Batch = tuple[torch.Tensor, torch.Tensor]
log = logging.getLogger(__name__)
_WARNED: set[int] = set()  # data sets already reported as identical images, one warning each


class BatchStream:
    """Minibatches sampled without replacement (reshuffled per pass) from `dataset`, seeded."""

    def __init__(self, dataset: Dataset, batch_size: int, seed: int, device: torch.device | str = "cpu",
                 channels_last: bool = False) -> None:
        if len(dataset) < batch_size:  # type: ignore[arg-type]
            raise ValueError(f"data set has {len(dataset)} images, fewer than the batch size {batch_size}")
        self.dataset, self.batch_size, self.device = dataset, batch_size, torch.device(device)
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.gen = torch.Generator().manual_seed(seed)
        self._perm = torch.empty(0, dtype=torch.long)
        self._pos = 0

    def next(self) -> Batch:
        """The next minibatch, on the stream's device."""
        if self._pos + self.batch_size > len(self._perm):
            self._perm = torch.randperm(len(self.dataset), generator=self.gen)  # type: ignore[arg-type]
            self._pos = 0
        idx = self._perm[self._pos:self._pos + self.batch_size].tolist()
        self._pos += self.batch_size
        items = [self.dataset[i] for i in idx]
        x = torch.stack([it[0] for it in items]).to(self.device)
        if x.dim() == 4:
            x = x.contiguous(memory_format=self.memory_format)
        y = torch.as_tensor([int(it[1]) for it in items], dtype=torch.long).to(self.device)
        if id(self.dataset) not in _WARNED and len(x) > 1 and torch.equal(x, x[:1].expand_as(x)):
            _WARNED.add(id(self.dataset))  # once per data set: the data, not the batch, is the cause
            log.warning("the %d images of a scoring minibatch are all identical: data-dependent scores (nwot, "
                        "jacob_cov, ...) carry no information on such data; check the data set (--data-root)", len(x))
        return x, y

    def take(self, n: int) -> list[Batch]:
        """`n` consecutive minibatches."""
        return [self.next() for _ in range(n)]


def random_patches(dataset: Dataset, count: int, size: int, seed: int) -> torch.Tensor:
    """`count` one-channel `size` x `size` crops (count, 1, size, size), each of a random channel at a random
    position of a random image of `dataset` (images drawn without replacement while there are enough): TE-NAS's
    linear-region inputs (linear_region_counter.py: RandomCrop(3), RandChannel(1) on normalised images)."""
    gen = torch.Generator().manual_seed(seed)
    n = len(dataset)  # type: ignore[arg-type]
    idx = torch.randperm(n, generator=gen)[:count] if n >= count else torch.randint(n, (count,), generator=gen)
    images = torch.stack([dataset[i][0] for i in idx.tolist()])
    c, h, w = images.shape[1:]
    if h < size or w < size:
        raise ValueError(f"images of {h}x{w} pixels are smaller than the {size}x{size} crops")
    channel = torch.randint(c, (count,), generator=gen)
    top = torch.randint(h - size + 1, (count,), generator=gen)
    left = torch.randint(w - size + 1, (count,), generator=gen)
    offsets = torch.arange(size)
    rows = (top[:, None] + offsets)[:, :, None]
    cols = (left[:, None] + offsets)[:, None, :]
    picked = images[torch.arange(count)[:, None, None], channel[:, None, None], rows, cols]
    return picked.unsqueeze(1).contiguous()
