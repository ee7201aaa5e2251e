"""Candidate operations shared by the cell spaces (NB201 naming; DARTS ops live in spaces/darts_ops)."""
from __future__ import annotations

import weakref
from contextlib import contextmanager
from typing import Iterator

import torch
import torch.nn.functional as F
from torch import nn


def pixel_grid(x: torch.Tensor, stride: int, offset: int = 0) -> torch.Tensor:
    """Every stride-th pixel from (offset, offset), zero-padded at the far edge to ceil(H/stride) x ceil(W/stride).

    A 1x1 conv of this grid is the stride-`stride` 1x1 conv of x shifted by `offset` (the same sums). Networks run
    it instead of the strided conv: torch 2.14's CPU weight gradient of a stride-2 1x1 conv on channels-last inputs
    of fewer than 8 channels corrupts the heap, and the grid is a quarter of the input.
    """
    h, w = x.shape[-2:]
    g = x[:, :, offset::stride, offset::stride]
    pad_h, pad_w = -(-h // stride) - g.shape[-2], -(-w // stride) - g.shape[-1]
    return F.pad(g, (0, pad_w, 0, pad_h)) if pad_h or pad_w else g


class Zero(nn.Module):
    """The 'none' op: outputs zeros (downsampled when strided). Mixed ops skip it entirely."""

    def __init__(self, stride: int = 1) -> None:
        super().__init__()
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == 1:
            return x.mul(0.0)
        return x[:, :, :: self.stride, :: self.stride].mul(0.0)


class ReLUCache:
    """Memo of ReLU outputs keyed by input identity, within one scope (e.g. one cell's forward).

    Every ReLU-Conv-BN op on the edges leaving a node reads the same tensor: it is rectified
    once. The ReLU modules are still called (hooks see every one), the result is exact, and
    nothing outlives the scope.
    """

    def __init__(self) -> None:
        self._memo: dict[int, tuple[weakref.ref, torch.Tensor]] = {}
        self._depth = 0

    @contextmanager
    def scope(self) -> Iterator[None]:
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
            if self._depth == 0:
                self._memo.clear()

    def relu(self, x: torch.Tensor) -> torch.Tensor:
        if self._depth == 0:
            return torch.relu(x)
        hit = self._memo.get(id(x))
        if hit is not None and hit[0]() is x:
            return hit[1]
        y = torch.relu(x)
        self._memo[id(x)] = (weakref.ref(x), y)
        return y


class CachedReLU(nn.ReLU):
    """An nn.ReLU (so proxies find it) whose output comes from a shared ReLUCache."""

    def __init__(self, cache: ReLUCache) -> None:
        super().__init__(inplace=False)
        self.__dict__["cache"] = cache  # plain attribute: shared, not a submodule

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.cache.relu(x)


def relu(cache: ReLUCache | None = None) -> nn.ReLU:
    """A ReLU module: rectifying through `cache` when given (an op's first ReLU, on a node's output)."""
    return nn.ReLU(inplace=False) if cache is None else CachedReLU(cache)


class ReLUConvBN(nn.Module):
    """ReLU -> Conv -> BN, the NB201 'nor_conv' op and residual-block unit."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, padding: int, dilation: int = 1,
                 affine: bool = True, relu_cache: ReLUCache | None = None) -> None:
        super().__init__()
        self.op = nn.Sequential(
            relu(relu_cache),
            nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=padding, dilation=dilation, bias=False),
            nn.BatchNorm2d(c_out, affine=affine),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(x)

    def activation_conv_bn(self) -> tuple[nn.Module, nn.Conv2d, nn.Module]:
        """The op is bn(conv(act(x))): supernet.folding merges such ops of one edge into one convolution."""
        return self.op[0], self.op[1], self.op[2]


class AvgPool3x3(nn.Module):
    """3x3 average pooling that ignores padding (NB201 avg_pool_3x3, same channels).

    Computed as a depthwise 3x3 sum (a grouped conv with a ones kernel) times the inverse count
    of in-image positions: the same value as AvgPool2d(count_include_pad=False), about 10x faster
    on CPU, where the pooling kernel is slow for NCHW tensors.
    """

    def __init__(self, stride: int = 1) -> None:
        super().__init__()
        self.stride = stride
        self._cache: dict[tuple, tuple[torch.Tensor, torch.Tensor]] = {}

    def _kernels(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        key = (x.shape[1], x.shape[2], x.shape[3], x.dtype, x.device)
        hit = self._cache.get(key)
        if hit is None:
            ones = torch.ones(x.shape[1], 1, 3, 3, dtype=x.dtype, device=x.device)
            count = F.conv2d(torch.ones(1, 1, x.shape[2], x.shape[3], dtype=x.dtype, device=x.device),
                             ones[:1], stride=self.stride, padding=1)
            hit = (ones, count.reciprocal())
            self._cache = {key: hit}
        return hit

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ones, inv_count = self._kernels(x)
        return F.conv2d(x, ones, stride=self.stride, padding=1, groups=x.shape[1]).mul_(inv_count)


def nb201_op(name: str, channels: int, affine: bool, relu_cache: ReLUCache | None = None) -> nn.Module:
    """Build one NB201 candidate op on `channels` channels (cells never change shape)."""
    if name == "none":
        return Zero()
    if name == "skip_connect":
        return nn.Identity()
    if name == "nor_conv_1x1":
        return ReLUConvBN(channels, channels, 1, 1, 0, affine=affine, relu_cache=relu_cache)
    if name == "nor_conv_3x3":
        return ReLUConvBN(channels, channels, 3, 1, 1, affine=affine, relu_cache=relu_cache)
    if name == "avg_pool_3x3":
        return AvgPool3x3()
    raise ValueError(f"unknown NB201 op {name!r}")


class ResNetBasicBlock(nn.Module):
    """NB201 reduction block: two ReLU-Conv-BN 3x3 (first strided) plus an avg-pool + 1x1 shortcut."""

    def __init__(self, c_in: int, c_out: int, stride: int = 2) -> None:
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, stride, 1)
        self.conv_b = ReLUConvBN(c_out, c_out, 3, 1, 1)
        self.downsample = nn.Sequential(
            nn.AvgPool2d(kernel_size=2, stride=2, padding=0),
            nn.Conv2d(c_in, c_out, 1, 1, 0, bias=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.downsample(x) + self.conv_b(self.conv_a(x))
