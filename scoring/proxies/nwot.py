"""nwot: the NASWOT score (Mellor et al. 2021, eqs. 1-2), log|K_H| of the ReLU-code kernel.

K_H[i, j] = N_A - d_H(c_i, c_j) = (C C^T + (1-C)(1-C)^T)[i, j] over the binary codes c of every
ReLU unit's input. With G = C C^T, whose diagonal holds the row sums, this is K_H = n + 2G - G_ii - G_jj:
one pass writing the 0/1 codes and one matmul per code tensor, in float32 on column chunks of fewer than
2^24 units, so each entry is an exact integer, accumulated in float64. (An int8 matmul with int32 sums,
`torch._int_mm`, was tried on the CPU: its speed depends on the CPU and the torch build; with torch 2.14 on an
AVX2-only CPU it is 6-10x slower than this and made a proposal 3.4x slower; `benchmarks/nwot_gram.py`.)
A tensor that enters several ReLUs within one forward is coded once and counted with its multiplicity (found by
tensor identity, for any space).
"""
from __future__ import annotations

import math
import weakref
from contextlib import contextmanager
from typing import Callable, Iterator

import torch
from torch import nn

from supernet.grouped import Grouping
from supernet.mixed_op import op_owners
from supernet.modules import RELU_TYPES

from .proxy import PROXIES, Evaluator, Proxy

_EXACT_COLUMNS = 1 << 23  # C C^T entries stay below 2^24 in float32 per chunk


def _flat_in_memory_order(x: torch.Tensor) -> torch.Tensor:
    """Batch x units without a copy; the kernel is invariant to the order of the units."""
    if x.dim() == 4 and not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last):
        x = x.permute(0, 2, 3, 1)
    return x.reshape(x.shape[0], -1)


def _gram(flat: torch.Tensor, groups: int) -> torch.Tensor:
    """(groups, B, B) float64 C C^T of the 0/1 codes of `flat` (batch x units), exact."""
    n = flat.shape[1]
    c = torch.gt(flat, 0, out=torch.empty(flat.shape, dtype=torch.float32, device=flat.device))  # codes, one pass
    c = c.view(groups, -1, n)
    g = torch.zeros(groups, c.shape[1], c.shape[1], dtype=torch.float64, device=flat.device)
    for start in range(0, n, _EXACT_COLUMNS):
        part = c[:, :, start:start + _EXACT_COLUMNS]
        g += torch.bmm(part, part.transpose(1, 2)).to(torch.float64)
    return g


def code_gram(x: torch.Tensor, groups: int = 1) -> torch.Tensor:
    """K_H = n + 2 C C^T - r_i - r_j in float64 for the 0/1 ReLU codes C of `x` (batch first; r the row sums,
    the diagonal of C C^T): the Hamming kernel. With `groups` > 1 the batch holds that many groups and a
    (groups, B, B) stack is returned."""
    flat = _flat_in_memory_order(x)
    n = flat.shape[1]
    g = _gram(flat, groups)
    r = torch.diagonal(g, dim1=1, dim2=2)
    k = (2 * g).sub_(r.unsqueeze(2)).sub_(r.unsqueeze(1)).add_(n)
    return k[0] if groups == 1 else k


def logdet_score(kernel: torch.Tensor) -> float:
    """log|det K| (slogdet); a singular kernel gives -inf, as the formula does."""
    sign, logabs = torch.linalg.slogdet(kernel.cpu())
    return -math.inf if float(sign) == 0.0 else float(logabs)


class _KernelAccumulator:
    """Forward pre-hook target accumulating K over one forward; dedups inputs by identity.

    In a grouped forward, a ReLU inside an op removed in group g does not count in K_g."""

    def __init__(self, owners: dict[nn.Module, tuple[str, str]]) -> None:
        self.owners = owners
        self.grouping: Grouping | None = None
        self.kernel: torch.Tensor | None = None
        self._seen: dict[int, tuple[weakref.ref, torch.Tensor]] = {}

    def reset(self, grouping: Grouping | None = None) -> None:
        self.kernel, self._seen, self.grouping = None, {}, grouping

    def __call__(self, module: nn.Module, args: tuple) -> None:
        x = args[0]
        hit = self._seen.get(id(x))
        if hit is not None and hit[0]() is x:
            gram = hit[1]
        else:
            gram = code_gram(x.detach(), 1 if self.grouping is None else len(self.grouping))
            self._seen[id(x)] = (weakref.ref(x), gram)
        owner = self.owners.get(module) if self.grouping is not None else None
        if owner is not None:
            mask = self.grouping.op_active(*owner)  # type: ignore[union-attr]
            if not all(mask):
                gram = gram * torch.tensor(mask, dtype=gram.dtype, device=gram.device).view(-1, 1, 1)
        self.kernel = gram.clone() if self.kernel is None else self.kernel.add_(gram)


class _NwotEvaluator(Evaluator):
    """log|K_H| of one batch, or of every group of a grouped forward (one kernel per group)."""

    def __init__(self, model: nn.Module, acc: _KernelAccumulator, proxy: str) -> None:
        super().__init__(self._one, proxy)
        self.model, self.acc = model, acc

    def _kernel(self, run: Callable[[], object], grouping: Grouping | None) -> torch.Tensor:
        self.acc.reset(grouping)
        try:
            with torch.no_grad():
                run()
            kernel = self.acc.kernel
        finally:
            self.acc.reset()
        return kernel  # type: ignore[return-value]

    def _one(self, inputs: torch.Tensor, targets: torch.Tensor) -> float:
        return logdet_score(self._kernel(lambda: self.model(inputs), None))

    def score_groups(self, inputs: torch.Tensor, targets: torch.Tensor, grouping: Grouping) -> list[float]:
        kernel = self._kernel(lambda: grouping.forward(self.model, inputs), grouping)
        if len(grouping) == 1:
            kernel = kernel.unsqueeze(0)
        return [logdet_score(k) for k in kernel]


@PROXIES.register("nwot")
class NWOT(Proxy):
    """NASWOT score log|K_H| (Mellor et al. 2021); no labels, no autograd; supports grouped batches."""

    supports_groups = True
    folds_batch_norm = True

    @contextmanager
    def _session(self, model: nn.Module) -> Iterator[Evaluator]:
        acc = _KernelAccumulator(op_owners(model, RELU_TYPES))
        handles = [m.register_forward_pre_hook(acc) for m in model.modules() if isinstance(m, RELU_TYPES)]
        if not handles:
            raise ValueError("nwot needs ReLU modules in the model; this model has none")
        try:
            yield _NwotEvaluator(model, acc, self.name)
        finally:
            for h in handles:
                h.remove()
