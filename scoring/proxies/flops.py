"""flops: floating-point operations of one forward per image, by torch.utils.flop_counter (a baseline).

Convolutions and linear layers count (2 FLOPs per multiply-add; supernet.flops); element-wise work and
pooling do not, as in every benchmark's FLOP counter: AvgPool3x3's depthwise ones-kernel convolution is
pooling. Only executed ops count, so a supernet in any edit state counts its active ops. Measured on the
first two images of the batch and divided by two. Higher is better. Runs without autograd.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import torch
from torch import nn

from supernet.flops import forward_flops

from .proxy import PROXIES, Proxy, ScoreFn


@PROXIES.register("flops")
class Flops(Proxy):
    """FLOPs per image of one forward pass."""

    @contextmanager
    def _session(self, model: nn.Module) -> Iterator[ScoreFn]:
        def evaluate(inputs: torch.Tensor, targets: torch.Tensor | None = None) -> float:
            x = inputs[:2]
            with torch.no_grad():
                return float(forward_flops(model, x)) / x.shape[0]

        yield evaluate
