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
from contextlib import contextmanager
from typing import Iterator

import torch
from torch import nn

from .base import PROXIES, Evaluator, Proxy

_EXACT_COLUMNS = 1 << 23  # |S S^T| entries stay below 2^24 in float32 per chunk


def code_gram(x: torch.Tensor) -> torch.Tensor:
    """(S S^T + n) / 2 in float64 for the +-1 ReLU codes of `x` (batch first): the Hamming kernel."""
    s = x.reshape(x.shape[0], -1)
    n = s.shape[1]
    s = torch.where(s > 0, 1.0, -1.0).to(torch.float32)
    acc = torch.zeros(s.shape[0], s.shape[0], dtype=torch.float64, device=x.device)
    for start in range(0, n, _EXACT_COLUMNS):
        part = s[:, start:start + _EXACT_COLUMNS]
        acc += (part @ part.T).to(torch.float64)
    return (acc + n) / 2


def logdet_score(kernel: torch.Tensor) -> float:
    """log|det K| (slogdet); a singular kernel gives -inf, as the formula does."""
    sign, logabs = torch.linalg.slogdet(kernel.cpu())
    return -math.inf if float(sign) == 0.0 else float(logabs)


def relu_modules(model: nn.Module) -> list[nn.Module]:
    """Every ReLU-family module whose input codes count in nwot."""
    return [m for m in model.modules() if isinstance(m, (nn.ReLU, nn.ReLU6))]


class _KernelAccumulator:
    """Forward pre-hook target accumulating K over one forward; dedups inputs by identity."""

    def __init__(self) -> None:
        self.kernel: torch.Tensor | None = None
        self._seen: dict[int, tuple[weakref.ref, torch.Tensor]] = {}
        self.units = 0

    def reset(self) -> None:
        self.kernel, self._seen, self.units = None, {}, 0

    def __call__(self, module: nn.Module, args: tuple) -> None:
        x = args[0]
        hit = self._seen.get(id(x))
        if hit is not None and hit[0]() is x:
            gram = hit[1]
        else:
            gram = code_gram(x.detach())
            self._seen[id(x)] = (weakref.ref(x), gram)
        self.units += x[0].numel()
        self.kernel = gram.clone() if self.kernel is None else self.kernel.add_(gram)


@PROXIES.register("nwot")
class NWOT(Proxy):
    """NASWOT score log|K_H| (Mellor et al. 2021); no labels, no autograd."""

    name = "nwot"

    @contextmanager
    def _session(self, model: nn.Module) -> Iterator[Evaluator]:
        acc = _KernelAccumulator()
        handles = [m.register_forward_pre_hook(acc) for m in relu_modules(model)]
        if not handles:
            raise ValueError("nwot needs ReLU modules in the model; this model has none")

        def evaluate(inputs: torch.Tensor, targets: torch.Tensor) -> float:
            acc.reset()
            with torch.no_grad():
                model(inputs)
            kernel = acc.kernel
            acc.reset()
            return logdet_score(kernel)  # type: ignore[arg-type]

        try:
            yield evaluate
        finally:
            for h in handles:
                h.remove()
