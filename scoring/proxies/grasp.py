"""grasp (Wang et al. 2020, as in Abdelfattah et al. 2021 eq. 1): S = -sum_p (H g)_p * theta_p.

g = dL/dW over the conv/linear weights W and H = d^2 L / dW^2 the Hessian with respect to those
weights; H g is a Hessian-vector product (Pearlmutter 1994: the gradient of <g, dL/dW> with g held
fixed), never a built Hessian. The minus sign of the paper is kept, so higher is better as published;
the signed sum is not passed through abs. L is the mean cross-entropy of one minibatch (temperature 1).
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from .proxy import PROXIES
from .common import WeightGradientProxy, grads_or_zeros


def hessian_vector_product(loss: torch.Tensor, weights: Sequence[torch.Tensor], vectors: Sequence[torch.Tensor],
                           grads: Sequence[torch.Tensor] | None = None) -> list[torch.Tensor]:
    """H v for the Hessian of `loss` w.r.t. `weights` (double backward; Pearlmutter's trick).

    `grads`, when given, are d loss / d weights computed with create_graph=True (reused, not recomputed)."""
    if grads is None:
        grads = grads_or_zeros(loss, weights, create_graph=True)
    dot = sum(((g * v.detach()).sum() for g, v in zip(grads, vectors)), torch.zeros((), device=loss.device))
    return grads_or_zeros(dot, weights)


@PROXIES.register("grasp")
class Grasp(WeightGradientProxy):
    """-W * (H g) summed over conv/linear weights (one forward, a backward and a double backward)."""

    def _score(self, model: nn.Module, weights: list[nn.Parameter], inputs: torch.Tensor,
               targets: torch.Tensor) -> float:
        loss = self.loss(model, inputs, targets)
        grads = grads_or_zeros(loss, weights, create_graph=True)
        hg = hessian_vector_product(loss, weights, [g.detach() for g in grads], grads)
        return float(-sum(((h * w.detach()).double().sum() for h, w in zip(hg, weights)),
                          torch.zeros((), dtype=torch.float64)))
