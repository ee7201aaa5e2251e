"""nwot: the NASWOT score (Mellor et al. 2021, eqs. 1-2), log|K_H| of the ReLU-code kernel.

K_H[i, j] = N_A - d_H(c_i, c_j) = (C C^T + (1-C)(1-C)^T)[i, j] over the binary codes c of every
ReLU unit's input. With +-1 codes S = 2C - 1 this is K_H = (S S^T + n) / 2, one matmul per code
tensor. The matmul runs in float32 on column chunks of fewer than 2^24 units, so each entry is an
exact integer, and is accumulated in float64. A tensor that enters several ReLUs within one forward
is coded once and counted with its multiplicity (found by tensor identity, for any space).
"""
from __future__ import annotations

import math
import weakref
from contextlib import contextmanager, nullcontext
from typing import Iterator

import torch
from torch import nn

from supernet.mixed_op import MixedOp

from .base import PROXIES, Evaluator, Proxy
from .grouping import grouped_batch_norm

_EXACT_COLUMNS = 1 << 23  # |S S^T| entries stay below 2^24 in float32 per chunk


def _flat_in_memory_order(x: torch.Tensor) -> torch.Tensor:
    """Batch x units without a copy; the kernel is invariant to the order of the units."""
    if x.dim() == 4 and not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last):
        x = x.permute(0, 2, 3, 1)
    return x.reshape(x.shape[0], -1)


def code_gram(x: torch.Tensor, groups: int = 1) -> torch.Tensor:
    """(S S^T + n) / 2 in float64 for the +-1 ReLU codes of `x` (batch first): the Hamming kernel.

    With `groups` > 1 the batch holds that many groups and a (groups, B, B) stack is returned."""
    s = _flat_in_memory_order(x)
    n = s.shape[1]
    s = s.gt(0).to(torch.float32).mul_(2.0).sub_(1.0).view(groups, -1, n)
    acc = torch.zeros(groups, s.shape[1], s.shape[1], dtype=torch.float64, device=x.device)
    for start in range(0, n, _EXACT_COLUMNS):
        part = s[:, :, start:start + _EXACT_COLUMNS]
        acc += torch.bmm(part, part.transpose(1, 2)).to(torch.float64)
    acc = (acc + n) / 2
    return acc[0] if groups == 1 else acc


def logdet_score(kernel: torch.Tensor) -> float:
    """log|det K| (slogdet); a singular kernel gives -inf, as the formula does."""
    sign, logabs = torch.linalg.slogdet(kernel.cpu())
    return -math.inf if float(sign) == 0.0 else float(logabs)


def relu_modules(model: nn.Module) -> list[nn.Module]:
    """Every ReLU-family module whose input codes count in nwot."""
    return [m for m in model.modules() if isinstance(m, (nn.ReLU, nn.ReLU6))]


def op_owners(model: nn.Module) -> dict[nn.Module, tuple[MixedOp, str]]:
    """ReLU module -> (mixed op, op name) for the ReLUs inside candidate ops (for per-group masks)."""
    owners: dict[nn.Module, tuple[MixedOp, str]] = {}
    for m in model.modules():
        if isinstance(m, MixedOp):
            for name, op in m.ops.items():
                for r in relu_modules(op):
                    owners[r] = (m, name)
    return owners


class _KernelAccumulator:
    """Forward pre-hook target accumulating K over one forward; dedups inputs by identity.

    In a grouped forward, a ReLU inside an op removed in group g does not count in K_g."""

    def __init__(self, owners: dict[nn.Module, tuple[MixedOp, str]]) -> None:
        self.owners = owners
        self.groups = 1
        self.kernel: torch.Tensor | None = None
        self._seen: dict[int, tuple[weakref.ref, torch.Tensor]] = {}

    def reset(self, groups: int = 1) -> None:
        self.kernel, self._seen, self.groups = None, {}, groups

    def __call__(self, module: nn.Module, args: tuple) -> None:
        x = args[0]
        hit = self._seen.get(id(x))
        if hit is not None and hit[0]() is x:
            gram = hit[1]
        else:
            gram = code_gram(x.detach(), self.groups)
            self._seen[id(x)] = (weakref.ref(x), gram)
        owner = self.owners.get(module) if self.groups > 1 else None
        if owner is not None:
            mixed, name = owner
            mask = [name in a for a in mixed.state.group_active(mixed.edge)]
            if not all(mask):
                gram = gram * torch.tensor(mask, dtype=gram.dtype, device=gram.device).view(-1, 1, 1)
        self.kernel = gram.clone() if self.kernel is None else self.kernel.add_(gram)


@PROXIES.register("nwot")
class NWOT(Proxy):
    """NASWOT score log|K_H| (Mellor et al. 2021); no labels, no autograd; supports grouped batches."""

    supports_groups = True

    @contextmanager
    def _session(self, model: nn.Module) -> Iterator[Evaluator]:
        acc = _KernelAccumulator(op_owners(model))
        handles = [m.register_forward_pre_hook(acc) for m in relu_modules(model)]
        if not handles:
            raise ValueError("nwot needs ReLU modules in the model; this model has none")

        def evaluate(inputs: torch.Tensor, targets: torch.Tensor, groups: int = 1):
            """Score of one batch; with `groups` > 1, one score per group (the batch is repeated)."""
            acc.reset(groups)
            with torch.no_grad():
                if groups == 1:
                    model(inputs)
                else:
                    fmt = torch.channels_last if inputs.dim() == 4 and not inputs.is_contiguous() \
                        and inputs.is_contiguous(memory_format=torch.channels_last) else torch.contiguous_format
                    big = inputs.repeat(groups, *[1] * (inputs.dim() - 1)).contiguous(memory_format=fmt)
                    with grouped_batch_norm(model, groups) if self.bn_mode == "batch" else nullcontext():
                        model(big)
            kernel = acc.kernel
            acc.reset()
            if groups == 1:
                return logdet_score(kernel)  # type: ignore[arg-type]
            return [logdet_score(k) for k in kernel]  # type: ignore[union-attr]

        try:
            yield evaluate
        finally:
            for h in handles:
                h.remove()
