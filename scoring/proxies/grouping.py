"""Batched evaluation of G arch-state variants in one forward (the batch holds G groups of B).

Batch statistics must stay per group, so BatchNorm layers are switched to per-group statistics
for the duration; everything else in the supernet is per-sample and needs no change.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import torch
from torch import nn

_BN = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)


def _grouped_bn(m: nn.modules.batchnorm._BatchNorm, groups: int):
    """forward(x) normalising each of the `groups` batch groups with its own statistics (no buffer update)."""

    def forward(x: torch.Tensor) -> torch.Tensor:
        xs = x.view(groups, x.shape[0] // groups, *x.shape[1:])
        dims = (1,) + tuple(range(3, xs.dim()))
        var, mean = torch.var_mean(xs, dim=dims, unbiased=False, keepdim=True)
        y = (xs - mean) * torch.rsqrt(var + m.eps)
        if m.affine:
            shape = (1, 1, -1) + (1,) * (xs.dim() - 3)
            y = y * m.weight.view(shape) + m.bias.view(shape)
        return y.view(x.shape)

    return forward


@contextmanager
def grouped_batch_norm(model: nn.Module, groups: int) -> Iterator[None]:
    """Per-group batch statistics in every BN layer that normalises with batch statistics."""
    swapped = []
    for m in model.modules():
        if isinstance(m, _BN) and (m.training or not m.track_running_stats):
            m.forward = _grouped_bn(m, groups)  # instance attribute, removed on exit
            swapped.append(m)
    try:
        yield
    finally:
        for m in swapped:
            del m.forward
