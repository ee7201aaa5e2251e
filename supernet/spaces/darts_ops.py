"""DARTS candidate operations (Liu et al. 2019, Section 3 / Appendix A.1) and RobustDARTS' noise op.

sep_conv = (ReLU, depthwise kxk, pointwise, BN) twice, the first strided; dil_conv = ReLU, dilated
depthwise kxk (dilation 2), pointwise, BN; skip_connect = identity, or FactorizedReduce when strided;
pools are 3x3 with padding 1 (average pooling ignores padding); none = zeros; noise = fresh N(0, 1)
noise shaped like the (strided) input (Zela et al. 2020, space S4).
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ..ops import AvgPool3x3, ReLUCache, ReLUConvBN, Zero, pixel_grid, relu

DARTS_OPS = ("none", "max_pool_3x3", "avg_pool_3x3", "skip_connect", "sep_conv_3x3", "sep_conv_5x5",
             "dil_conv_3x3", "dil_conv_5x5")
EXTRA_OPS = ("noise",)  # RobustDARTS S4
KNOWN_OPS = DARTS_OPS + EXTRA_OPS


class SepConv(nn.Module):
    """Separable conv applied twice: (ReLU, dw kxk, pw 1x1, BN) x 2; only the first is strided."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, padding: int, affine: bool,
                 relu_cache: ReLUCache | None = None) -> None:
        super().__init__()
        self.op = nn.Sequential(
            relu(relu_cache),
            nn.Conv2d(c_in, c_in, kernel, stride, padding, groups=c_in, bias=False),
            nn.Conv2d(c_in, c_in, 1, bias=False),
            nn.BatchNorm2d(c_in, affine=affine),
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_in, kernel, 1, padding, groups=c_in, bias=False),
            nn.Conv2d(c_in, c_out, 1, bias=False),
            nn.BatchNorm2d(c_out, affine=affine),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(x)


class DilConv(nn.Module):
    """Dilated separable conv: ReLU, dilated depthwise kxk, pointwise 1x1, BN."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, padding: int, dilation: int,
                 affine: bool, relu_cache: ReLUCache | None = None) -> None:
        super().__init__()
        self.op = nn.Sequential(
            relu(relu_cache),
            nn.Conv2d(c_in, c_in, kernel, stride, padding, dilation=dilation, groups=c_in, bias=False),
            nn.Conv2d(c_in, c_out, 1, bias=False),
            nn.BatchNorm2d(c_out, affine=affine),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(x)


class FactorizedReduce(nn.Module):
    """Halve the resolution with two 1x1 stride-2 convs on pixel grids offset by one, concatenated.

    The offset grid is padded at the far edge so that odd sizes give the same ceil(H/2) as the first
    grid (for even sizes the padding is never sampled, so the result equals DARTS'). Each stride-2 1x1
    conv runs as a 1x1 conv of its pixel grid (`pixel_grid`; TE-NAS's C=1 pruning supernet reduces 2 channels).
    """

    def __init__(self, c_in: int, c_out: int, affine: bool, relu_cache: ReLUCache | None = None) -> None:
        super().__init__()
        if c_out % 2:
            raise ValueError(f"FactorizedReduce needs an even number of output channels, got {c_out}")
        self.relu = relu(relu_cache)
        self.conv_1 = nn.Conv2d(c_in, c_out // 2, 1, bias=False)  # on the grid of even pixels
        self.conv_2 = nn.Conv2d(c_in, c_out // 2, 1, bias=False)  # on the grid of odd pixels
        self.bn = nn.BatchNorm2d(c_out, affine=affine)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(x)
        return self.bn(torch.cat([self.conv_1(pixel_grid(x, 2)), self.conv_2(pixel_grid(x, 2, 1))], dim=1))


class NoiseOp(nn.Module):
    """RobustDARTS' noise op: fresh Gaussian noise N(mean, std) shaped like the (strided) input."""

    def __init__(self, stride: int, mean: float = 0.0, std: float = 1.0) -> None:
        super().__init__()
        self.stride, self.mean, self.std = stride, mean, std

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Drawn in NCHW order whatever x's memory layout, so a channels-last run draws the same noise."""
        if self.stride != 1:
            x = x[:, :, :: self.stride, :: self.stride]
        noise = torch.empty(x.shape, dtype=x.dtype, device=x.device).normal_(self.mean, self.std)
        last = x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous()
        return noise.contiguous(memory_format=torch.channels_last) if last else noise


class MaxPool3x3(nn.Module):
    """3x3 max pooling with padding 1, as separable 3-tap maxima of strided slices.

    Equal to MaxPool2d(3, stride, padding=1) (the padding never wins); 2.5-6x faster on CPU, where
    the pooling kernel is slow for NCHW tensors (it dominated the DARTS supernet's forward).
    """

    def __init__(self, stride: int = 1) -> None:
        super().__init__()
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.stride
        p = F.pad(x, (1, 1, 1, 1), value=float("-inf"))
        h_out, w_out = (x.shape[2] - 1) // s + 1, (x.shape[3] - 1) // s + 1
        cols = [p[:, :, :, d:d + s * (w_out - 1) + 1:s] for d in range(3)]
        r = torch.maximum(torch.maximum(cols[0], cols[1]), cols[2])
        rows = [r[:, :, d:d + s * (h_out - 1) + 1:s] for d in range(3)]
        return torch.maximum(torch.maximum(rows[0], rows[1]), rows[2])


def _pool_max(c: int, stride: int, affine: bool, cache: ReLUCache | None) -> nn.Module:
    return MaxPool3x3(stride)


def _pool_avg(c: int, stride: int, affine: bool, cache: ReLUCache | None) -> nn.Module:
    return AvgPool3x3(stride)  # == AvgPool2d(3, stride, 1, count_include_pad=False), faster on CPU


def _skip(c: int, stride: int, affine: bool, cache: ReLUCache | None) -> nn.Module:
    return nn.Identity() if stride == 1 else FactorizedReduce(c, c, affine, cache)


_BUILDERS: dict[str, Callable[[int, int, bool, ReLUCache | None], nn.Module]] = {
    "none": lambda c, s, a, r: Zero(s),
    "max_pool_3x3": _pool_max,
    "avg_pool_3x3": _pool_avg,
    "skip_connect": _skip,
    "sep_conv_3x3": lambda c, s, a, r: SepConv(c, c, 3, s, 1, a, r),
    "sep_conv_5x5": lambda c, s, a, r: SepConv(c, c, 5, s, 2, a, r),
    "dil_conv_3x3": lambda c, s, a, r: DilConv(c, c, 3, s, 2, 2, a, r),
    "dil_conv_5x5": lambda c, s, a, r: DilConv(c, c, 5, s, 4, 2, a, r),
    "noise": lambda c, s, a, r: NoiseOp(s),
}


def darts_op(name: str, channels: int, stride: int, affine: bool, relu_cache: ReLUCache | None = None) -> nn.Module:
    """One DARTS op on `channels` channels (output channels = input channels); its first ReLU, which reads the
    node's output, rectifies through `relu_cache` when given (every op leaving a node reads the same tensor)."""
    try:
        build = _BUILDERS[name]
    except KeyError:
        raise ValueError(f"unknown DARTS op {name!r}; ops are {', '.join(KNOWN_OPS)}") from None
    return build(channels, stride, affine, relu_cache)


def search_op(name: str, channels: int, stride: int, relu_cache: ReLUCache | None = None, affine: bool = False,
              pool_bn: bool = True) -> nn.Module:
    """An op as it sits in the search supernet: BN(affine=False) everywhere, pools followed by BN (DARTS's
    model_search.py); TE-NAS's supernet has affine BN and bare pools (its cell_operations.py)."""
    op = darts_op(name, channels, stride, affine=affine, relu_cache=relu_cache)
    if "pool" in name and pool_bn:
        op = nn.Sequential(op, nn.BatchNorm2d(channels, affine=affine))
    return op


def preprocess(c_in: int, c_out: int, reduce_input: bool, affine: bool) -> nn.Module:
    """Cell input preprocessing: FactorizedReduce after a reduction cell, else ReLU-conv1x1-BN."""
    if reduce_input:
        return FactorizedReduce(c_in, c_out, affine)
    return ReLUConvBN(c_in, c_out, 1, 1, 0, affine=affine)


def is_identity(op: nn.Module) -> bool:
    """Drop-path is not applied to identity ops (DARTS)."""
    return isinstance(op, nn.Identity)
