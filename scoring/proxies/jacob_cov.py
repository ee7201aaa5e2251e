"""jacob_cov (Mellor et al. 2020, arXiv v1; Abdelfattah et al. 2021): how decorrelated the input
Jacobians of a minibatch are.

J_n = d(sum of the outputs)/d x_n for every image n of the batch (one backward to the input),
Sigma = the N x N Pearson correlation matrix of the rows J_n, lambda its eigenvalues from the symmetric
solver torch.linalg.eigvalsh (clamped at 0: Sigma is positive semi-definite, negative values are
round-off), and
    S = -sum_i [ ln(lambda_i + k) + 1 / (lambda_i + k) ],  k = 1e-5.
Higher is better. Labels are unused. With BN using batch statistics the J_n are coupled across the batch.

Degenerate cases (documented results, no crash): a batch of identical images gives identical rows,
Sigma = all ones, lambda = (N, 0, ..., 0), so S = -[ln(N+k) + 1/(N+k)] - (N-1)[ln k + 1/k]. A Jacobian
row with zero variance (e.g. an output that does not depend on the input, J = 0) has no correlation:
the score is -inf, below every network whose correlations exist. A non-finite Jacobian gives NaN.
"""
from __future__ import annotations

import math
from contextlib import contextmanager
from typing import Iterator

import torch
from torch import nn

from .proxy import PROXIES, Proxy, ScoreFn
from .common import logits_of, only_these_require_grad

EPS_K = 1e-5


def jacobian_rows(model: nn.Module, inputs: torch.Tensor) -> torch.Tensor:
    """d(sum of outputs)/d x_n for each image, as an N x D float64 matrix (zeros when unconnected)."""
    x = inputs.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        out = logits_of(model(x))
        grad = torch.autograd.grad(out.sum(), x, allow_unused=True)[0] if out.requires_grad else None
    if grad is None:
        grad = torch.zeros_like(x)
    return grad.reshape(grad.shape[0], -1).double()


def jacob_cov_score(rows: torch.Tensor, k: float = EPS_K) -> float:
    """-sum(ln(lambda + k) + 1/(lambda + k)) over the eigenvalues of corrcoef(rows); -inf when undefined."""
    if rows.shape[0] < 2:
        raise ValueError("jacob_cov needs a batch of at least 2 images")
    if not bool(torch.isfinite(rows).all()):
        return math.nan
    if bool((rows.amax(1) == rows.amin(1)).any()):
        return -math.inf
    lam = torch.linalg.eigvalsh(torch.corrcoef(rows)).clamp_min(0.0)
    return float(-(torch.log(lam + k) + 1.0 / (lam + k)).sum())


@PROXIES.register("jacob_cov")
class JacobCov(Proxy):
    """Eigenvalue score of the correlation of input Jacobians (one forward, one backward to the input)."""

    @contextmanager
    def _session(self, model: nn.Module) -> Iterator[ScoreFn]:
        only_these_require_grad(model, [])

        def evaluate(inputs: torch.Tensor, targets: torch.Tensor | None = None) -> float:
            return jacob_cov_score(jacobian_rows(model, inputs))

        yield evaluate
