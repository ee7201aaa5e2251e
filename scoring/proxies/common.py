"""Shared pieces of the proxies: which weights are scored, logits, losses, gradients without side effects.

Scored parameters follow the zero-cost paper's code (Abdelfattah et al. 2021): the `.weight` of every
convolution and linear layer; biases, BN affine parameters and architecture parameters are excluded.
Gradients are taken with `torch.autograd.grad`, never `.backward()`, so `.grad` is never touched.
"""
from __future__ import annotations

import math
from abc import abstractmethod
from contextlib import contextmanager
from typing import Iterator, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from supernet.modules import BN_TYPES

from .proxy import Proxy, ScoreFn

WEIGHT_LAYERS = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)


def scored_layers(model: nn.Module) -> list[nn.Module]:
    """Convolution and linear layers with a weight, each once (shared layers are not repeated)."""
    seen: set[int] = set()
    out: list[nn.Module] = []
    for m in model.modules():
        if isinstance(m, WEIGHT_LAYERS) and isinstance(getattr(m, "weight", None), torch.Tensor) and id(m) not in seen:
            seen.add(id(m))
            out.append(m)
    return out


def scored_weights(model: nn.Module) -> list[nn.Parameter]:
    """The `.weight` of every conv/linear layer, each tensor once."""
    seen: set[int] = set()
    out: list[nn.Parameter] = []
    for m in scored_layers(model):
        if id(m.weight) not in seen:
            seen.add(id(m.weight))
            out.append(m.weight)
    return out


def scored_weight_names(model: nn.Module) -> list[str]:
    """Names (as in `named_parameters`) of the scored weights, in `scored_weights` order."""
    names = {id(p): n for n, p in model.named_parameters()}
    return [names[id(w)] for w in scored_weights(model)]


def logits_of(out: torch.Tensor | Sequence[torch.Tensor]) -> torch.Tensor:
    """The logits of a forward: the first element when a network returns (logits, aux)."""
    if isinstance(out, (tuple, list)):
        return out[0]
    return out


def require_targets(name: str, targets: torch.Tensor | None) -> torch.Tensor:
    """Labels for a proxy that needs them, or a clear error."""
    if targets is None:
        raise ValueError(f"proxy {name!r} needs labels (targets) for its cross-entropy loss")
    return targets


def grads_or_zeros(output: torch.Tensor, tensors: Sequence[torch.Tensor], create_graph: bool = False,
                   retain_graph: bool | None = None) -> list[torch.Tensor]:
    """d output / d tensors; tensors the output does not depend on (a removed op) get zeros."""
    if not output.requires_grad:
        return [torch.zeros_like(t) for t in tensors]
    grads = torch.autograd.grad(output, list(tensors), allow_unused=True, create_graph=create_graph,
                                retain_graph=retain_graph)
    return [torch.zeros_like(t) if g is None else g for t, g in zip(tensors, grads)]


def only_these_require_grad(model: nn.Module, tensors: Sequence[torch.Tensor]) -> None:
    """requires_grad on `tensors` only (restored by `preserved` when the session ends)."""
    keep = {id(t) for t in tensors}
    for p in model.parameters():
        p.requires_grad_(id(p) in keep)


def safe_log(value: float) -> float:
    """ln(value) with ln(0) = -inf (the formula's limit) instead of an exception; NaN stays NaN."""
    if math.isnan(value):
        return math.nan
    return -math.inf if value <= 0.0 else math.log(value)


@contextmanager
def bn_bypassed(model: nn.Module) -> Iterator[None]:
    """Every BatchNorm forward is the identity for the block (synflow, Abdelfattah et al. 2021)."""
    patched = [m for m in model.modules() if isinstance(m, BN_TYPES)]
    try:
        for m in patched:
            m.forward = _identity  # type: ignore[method-assign]
        yield
    finally:
        for m in patched:
            m.__dict__.pop("forward", None)


def _identity(x: torch.Tensor) -> torch.Tensor:
    """The bypassed BN."""
    return x


class WeightGradientProxy(Proxy):
    """A proxy built from d loss / d W of the conv/linear weights (grad_norm, snip, grasp).

    Only the scored weights require grad during a session, so autograd builds no graph for the rest.
    """

    needs_labels = True

    @contextmanager
    def _session(self, model: nn.Module) -> Iterator[ScoreFn]:
        weights = scored_weights(model)
        only_these_require_grad(model, weights)

        def evaluate(inputs: torch.Tensor, targets: torch.Tensor) -> float:
            y = require_targets(self.name, targets)
            with torch.enable_grad():
                return float(self._score(model, weights, inputs, y))

        yield evaluate

    @staticmethod
    def loss(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Mean cross-entropy of the model's logits (the loss of the zero-cost paper)."""
        return F.cross_entropy(logits_of(model(inputs)), targets)

    @abstractmethod
    def _score(self, model: nn.Module, weights: list[nn.Parameter], inputs: torch.Tensor,
               targets: torch.Tensor) -> float:
        """The proxy's value for one batch."""
