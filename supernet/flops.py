"""FLOPs of one forward as benchmark FLOP counters count them: convolutions and linear layers (torch's
FlopCounterMode, 2 FLOPs per multiply-add), never pooling. AvgPool3x3 computes its average as a depthwise
convolution with a ones kernel (faster on CPU); that convolution is pooling, so it is not counted."""
from __future__ import annotations

from typing import Any

from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from .ops import AvgPool3x3

POOLS_AS_CONVOLUTIONS: tuple[type[nn.Module], ...] = (AvgPool3x3,)


def forward_flops(model: nn.Module, *inputs: Any) -> int:
    """FLOPs of `model(*inputs)` (the caller sets no_grad and train/eval mode), the pools of
    POOLS_AS_CONVOLUTIONS excepted."""
    counter = FlopCounterMode(display=False)
    starts: list[int] = []
    pooled = [0]

    def enter(module: nn.Module, args: Any) -> None:
        starts.append(counter.get_total_flops())

    def leave(module: nn.Module, args: Any, output: Any) -> None:
        pooled[0] += counter.get_total_flops() - starts.pop()

    pools = [m for m in model.modules() if isinstance(m, POOLS_AS_CONVOLUTIONS)]
    handles = [h for m in pools for h in (m.register_forward_pre_hook(enter), m.register_forward_hook(leave))]
    try:
        with counter:
            model(*inputs)
    finally:
        for h in handles:
            h.remove()
    return int(counter.get_total_flops() - pooled[0])
