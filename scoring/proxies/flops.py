"""flops: floating-point operations of one forward per image, by torch.utils.flop_counter (a baseline).

FlopCounterMode counts the matmul/convolution family (2 FLOPs per multiply-add); element-wise work is
not counted. Only executed ops count, so a supernet in any edit state counts its active ops. Measured
on the first two images of the batch and divided by two, after one uncounted warm-up forward (so that
lazily built constants, such as AvgPool3x3's cached count map, never count). Higher is better. Runs
without autograd.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from .base import PROXIES, Proxy, ScoreFn


@PROXIES.register("flops")
class Flops(Proxy):
    """FLOPs per image of one forward pass."""

    @contextmanager
    def _session(self, model: nn.Module) -> Iterator[ScoreFn]:
        def evaluate(inputs: torch.Tensor, targets: torch.Tensor | None = None) -> float:
            x = inputs[:2]
            counter = FlopCounterMode(display=False)
            with torch.no_grad():
                model(x)  # warm-up: lazily built constants (e.g. AvgPool3x3's count map) are not the op's cost
                with counter:
                    model(x)
            return float(counter.get_total_flops()) / x.shape[0]

        yield evaluate
