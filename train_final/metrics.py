"""Accuracy sums reduced across processes, and the model-size figures (params as DARTS counts them, FLOPs)."""
from __future__ import annotations

import torch
from torch import nn

from supernet.flops import forward_flops

from runtime.distributed import DistEnv, all_reduce_sum


def topk_correct(logits: torch.Tensor, target: torch.Tensor, ks: tuple[int, ...] = (1, 5)) -> list[torch.Tensor]:
    """Number of samples whose label is among the k highest logits, per k (k capped at the class count)."""
    kmax = min(max(ks), logits.shape[1])
    top = logits.topk(kmax, dim=1).indices
    hit = top.eq(target.unsqueeze(1))
    return [hit[:, :min(k, kmax)].any(dim=1).sum() for k in ks]


class MetricSums:
    """Running sums (loss x n, top-1 hits, top-5 hits, n) in float64, reduced with one all-reduce."""

    def __init__(self, device: torch.device) -> None:
        self.sums = torch.zeros(4, dtype=torch.float64, device=device)

    def update(self, mean_loss: torch.Tensor, logits: torch.Tensor, target: torch.Tensor) -> None:
        n = target.shape[0]
        c1, c5 = topk_correct(logits, target)
        self.sums += torch.stack([mean_loss.detach().double() * n, c1.double(), c5.double(),
                                  torch.tensor(float(n), dtype=torch.float64, device=self.sums.device)])

    def reduce(self, env: DistEnv) -> dict[str, float]:
        """Loss mean and accuracies (percent) over every process's samples."""
        s = all_reduce_sum(self.sums.clone(), env).tolist()
        n = s[3]
        if n == 0:
            return {"loss": float("nan"), "top1": float("nan"), "top5": float("nan"), "n": 0}
        return {"loss": s[0] / n, "top1": 100.0 * s[1] / n, "top5": 100.0 * s[2] / n, "n": int(n)}


def count_params(model: nn.Module) -> int:
    """Parameters of a network, auxiliary head excluded (DARTS's count_parameters_in_MB convention)."""
    return sum(p.numel() for name, p in model.named_parameters() if "auxiliary" not in name)


def count_flops(model: nn.Module, image_size: int, device: torch.device) -> int:
    """FLOPs of one eval-mode forward of a 3 x size x size image: convolutions and linear layers, 2 per
    multiply-add, pooling not counted (supernet.flops)."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            return forward_flops(model, torch.zeros(1, 3, image_size, image_size, device=device))
    finally:
        model.train(was_training)
