"""Eval-mode BatchNorm folded into the convolution before it, for forwards that need no parameter gradients.

A BatchNorm on running statistics is the affine map y = (x - mu) * s + beta with s = gamma / sqrt(var + eps),
so conv-then-BN is one convolution with weight W * s (per output channel) and bias (b - mu) * s + beta: exact in
real arithmetic, one pass over the activation less per BN (a tenth of an NB201 supernet forward on CPU). Only
(Conv2d, BatchNorm) pairs that follow each other in an nn.Sequential are folded, so the BN is known to read
exactly that convolution's output; BNs on batch statistics (training mode) are left alone. Scores that read
activations only (nwot) may use it; scores of parameter gradients may not (the BN weights would get none).

Once folded, a candidate op act -> conv -> BN is linear after its activation, so the ops of one mixed op that
read the same activated tensor sum to one convolution: sum_o w_o (W_o * a + b_o) = (sum_o w_o W_o) * a + sum_o w_o b_o,
the smaller kernels zero-padded to the largest (NB201: nor_conv_1x1 in the centre of nor_conv_3x3, one conv and
one add fewer per edge). Ops declare the form with `activation_conv_bn()`; the activation modules are still
called one by one (hooks see every call), and ops whose activations return different tensors are not merged.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .mixed_op import MixedOp
from .modules import BN_TYPES

Weight = float | torch.Tensor


def _on_running_stats(bn: nn.Module) -> bool:
    """Whether `bn` normalises with its running statistics (a fixed affine map) in this forward."""
    return (isinstance(bn, BN_TYPES) and not bn.training and bn.track_running_stats
            and bn.running_mean is not None and bn.running_var is not None)


def _unhooked(*modules: nn.Module) -> bool:
    """No hook would miss a call or see another tensor when the pair runs as one convolution."""
    return not any(m._forward_hooks or m._forward_pre_hooks for m in modules)


def foldable_pairs(model: nn.Module) -> list[tuple[nn.Conv2d, nn.Module]]:
    """Every (conv, BN) pair of `model` that can be folded now: adjacent in a Sequential, BN on running stats."""
    pairs = []
    for seq in model.modules():
        if not isinstance(seq, nn.Sequential):
            continue
        layers = list(seq)
        for conv, bn in zip(layers, layers[1:]):
            if (type(conv) is nn.Conv2d and conv.padding_mode == "zeros" and _on_running_stats(bn)
                    and bn.num_features == conv.out_channels and _unhooked(conv, bn)):
                pairs.append((conv, bn))
    return pairs


def folded_parameters(conv: nn.Conv2d, bn: nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    """(weight, bias) of the one convolution computing bn(conv(x)) with `bn` on running statistics."""
    with torch.no_grad():
        scale = torch.rsqrt(bn.running_var + bn.eps)
        shift = -bn.running_mean * scale
        if bn.affine:
            scale, shift = scale * bn.weight, shift * bn.weight + bn.bias
        weight = conv.weight * scale.view(-1, 1, 1, 1).to(conv.weight.dtype)
        bias = shift if conv.bias is None else conv.bias * scale + shift
        return weight.detach(), bias.to(conv.weight.dtype).detach()


def _conv_forward(conv: nn.Conv2d, weight: torch.Tensor, bias: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
    def forward(x: torch.Tensor) -> torch.Tensor:
        return conv._conv_forward(x, weight, bias)
    return forward


def _identity(x: torch.Tensor) -> torch.Tensor:
    return x


class LinearOps:
    """The candidate ops of one mixed op that are act -> conv -> (folded) BN, as (act, conv, weight, bias)."""

    def __init__(self, parts: dict[str, tuple[nn.Module, nn.Conv2d, torch.Tensor, torch.Tensor]]) -> None:
        self.parts = parts
        self._kernels: dict[tuple, tuple[torch.Tensor, torch.Tensor]] = {}  # merged (weight, bias) per float mix

    def split(self, x: torch.Tensor, names: Sequence[str], weights: Sequence[Weight]
              ) -> tuple[torch.Tensor | None, list[str], list[Weight]]:
        """(sum of w_o op_o(x) over the linear ops among `names`, computed merged where they share an activated
        input, or None when there are none; the other ops and their weights, for the caller to run)."""
        linear = [(n, w) for n, w in zip(names, weights) if n in self.parts]
        if len(linear) < 2 or torch.is_grad_enabled():
            return None, list(names), list(weights)
        rest = [(n, w) for n, w in zip(names, weights) if n not in self.parts]
        by_input: dict[int, tuple[torch.Tensor, list[tuple[str, Weight]]]] = {}
        for n, w in linear:
            a = self.parts[n][0](x)  # every activation module is called, as the op would call it
            by_input.setdefault(id(a), (a, []))[1].append((n, w))
        out: torch.Tensor | None = None
        for a, group in by_input.values():
            y = self._merged(a, group)
            out = y if out is None else out.add_(y)
        return out, [n for n, _ in rest], [w for _, w in rest]

    def _merged(self, a: torch.Tensor, group: list[tuple[str, Weight]]) -> torch.Tensor:
        """sum_o w_o conv_o(a) as one convolution where the geometries agree, else conv by conv."""
        convs = [self.parts[n][1] for n, _ in group]
        if len(group) > 1 and _mergeable(convs):
            ref = max(convs, key=lambda c: c.kernel_size[0])
            key = tuple(group) if all(isinstance(w, float) for _, w in group) else None
            merged = self._kernels.get(key) if key is not None else None
            if merged is None:
                k = ref.kernel_size[0]
                merged = (sum(w * _centred(self.parts[n][2], k) for n, w in group),
                          sum(w * self.parts[n][3] for n, w in group))
                if key is not None:
                    self._kernels[key] = merged
            return F.conv2d(a, merged[0], merged[1], ref.stride, ref.padding, ref.dilation)
        out: torch.Tensor | None = None
        for n, w in group:
            _, conv, weight, bias = self.parts[n]
            y = conv._conv_forward(a, weight, bias) * w
            out = y if out is None else out.add_(y)
        return out  # type: ignore[return-value]


def _mergeable(convs: list[nn.Conv2d]) -> bool:
    """Dense, square, odd kernels with 'same' padding, one stride and one dilation (1x1 kernels fit any)."""
    for c in convs:
        k, d = c.kernel_size[0], c.dilation[0]
        if (c.groups != 1 or c.kernel_size[1] != k or k % 2 == 0 or c.dilation[1] != d
                or c.padding != (d * (k - 1) // 2,) * 2 or c.padding_mode != "zeros"):
            return False
    return (len({(c.in_channels, c.out_channels, c.stride) for c in convs}) == 1
            and len({c.dilation for c in convs if c.kernel_size[0] > 1}) <= 1)


def _centred(weight: torch.Tensor, k: int) -> torch.Tensor:
    """A square kernel zero-padded to k x k about its centre (same output under 'same' padding)."""
    p = (k - weight.shape[-1]) // 2
    return F.pad(weight, (p, p, p, p)) if p else weight


def _linear_ops(mixed: MixedOp, folded: dict[nn.Conv2d, tuple[torch.Tensor, torch.Tensor]]) -> LinearOps | None:
    parts = {}
    for name, op in mixed.ops.items():
        form = getattr(op, "activation_conv_bn", None)
        if form is None:
            continue
        act, conv, bn = form()
        if conv in folded and _unhooked(op, conv, bn):
            parts[name] = (act, conv, *folded[conv])
    return LinearOps(parts) if len(parts) >= 2 else None


@contextmanager
def folded_batch_norm(model: nn.Module) -> Iterator[int]:
    """Within the block, every foldable (conv, BN) pair of `model` runs as one convolution, and the linear ops of
    each mixed op merge (weights taken on entry: the block must not change them). Yields the number of pairs
    folded; restores the modules on exit."""
    pairs = foldable_pairs(model)
    folded = {conv: folded_parameters(conv, bn) for conv, bn in pairs}
    for conv, bn in pairs:
        conv.forward = _conv_forward(conv, *folded[conv])  # instance attributes, removed on exit
        bn.forward = _identity
    merging = [(m, lin) for m in model.modules() if isinstance(m, MixedOp)
               for lin in [_linear_ops(m, folded)] if lin is not None]
    for m, lin in merging:
        m.__dict__["linear_ops"] = lin
    try:
        yield len(pairs)
    finally:
        for conv, bn in pairs:
            del conv.forward, bn.forward
        for m, _ in merging:
            del m.__dict__["linear_ops"]
