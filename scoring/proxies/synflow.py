"""synflow and synflow_bn (Tanaka et al. 2020; Abdelfattah et al. 2021 Sec. 3), returned as ln S.

R = sum of the outputs of the network with every parameter and buffer replaced by its absolute value,
in float64, on one all-ones input of the batch's image shape ("no data needed");
S = sum_p |theta_p * dR/dtheta_p| over the conv/linear weights; the score is ln S (higher is better).

* synflow: every BatchNorm is bypassed (identity), the variant of all the zero-cost paper's tables.
* synflow_bn: BatchNorm kept, in the proxy's BN mode (FEAR, Dey et al. 2021, reports it separately).

The absolute values live on float64 copies passed through `torch.func.functional_call`: the model's own
tensors are never modified, so nothing has to be undone.

Scaling (no overflow to inf): ln is monotone, so reporting ln S preserves the ranking. With BN bypassed
and no hidden biases (NB201 and DARTS cells, whose convs have no bias), every output is positively
homogeneous of degree 1 in the input, so S(s * 1) = s * S(1) exactly; and seeding the backward with
c instead of 1 gives c * dR/dtheta. When R or S overflows float64 at s = c = 1, both the input and the
backward seed are scaled by 2^-k (k = 500, then 1000; the forward keeps activations and the backward
keeps gradients in range) and ln S(1) = ln S(s, c) + 2 k ln 2 is reported: the same number, computed
without inf. A network whose outputs do not depend on any scored
weight scores ln 0 = -inf; one that overflows even at s = 2^-1000 scores +inf.
"""
from __future__ import annotations

import math
from contextlib import contextmanager, nullcontext
from typing import ClassVar, Iterator

import torch
from torch import nn
from torch.func import functional_call

from .proxy import PROXIES, Proxy, ScoreFn
from .common import bn_bypassed, logits_of, scored_weight_names

_RESCALE_EXPONENTS = (0, 500, 1000)  # input scale 2^-k tried in turn while R or S overflows


def synflow_log_score(model: nn.Module, image_shape: tuple[int, ...], device: torch.device,
                      bypass_bn: bool) -> float:
    """ln S for `model` (see the module doc), without modifying the model."""
    weight_names = scored_weight_names(model)
    tensors: dict[str, torch.Tensor] = {}
    for name, p in model.named_parameters():
        tensors[name] = p.detach().abs().double()
    for name, b in model.named_buffers():
        tensors[name] = b.detach().abs().double() if b.is_floating_point() else b
    weights = [tensors[n].requires_grad_(True) for n in weight_names]
    ones = torch.ones((1, *image_shape), dtype=torch.float64, device=device)
    guard = bn_bypassed(model) if bypass_bn else nullcontext()
    with guard, torch.enable_grad():
        for k in _RESCALE_EXPONENTS if bypass_bn else (0,):
            r = logits_of(functional_call(model, tensors, (ones * math.ldexp(1.0, -k),))).sum()
            if not weights or not r.requires_grad:
                return -math.inf
            total = float(r.detach())
            if math.isnan(total):
                return math.nan
            if math.isinf(total):
                continue
            seed = torch.tensor(math.ldexp(1.0, -k), dtype=torch.float64, device=device)  # backward scale
            grads = torch.autograd.grad(r, weights, grad_outputs=seed, allow_unused=True)
            s = float(sum(((w.detach() * g).abs().sum() for w, g in zip(weights, grads) if g is not None),
                          torch.zeros((), dtype=torch.float64, device=device)))
            if math.isnan(s):
                return math.nan
            if math.isfinite(s):
                return -math.inf if s == 0.0 else math.log(s) + 2 * k * math.log(2.0)
    return math.inf


class _Synflow(Proxy):
    """Common part of synflow and synflow_bn."""

    bypass_bn: ClassVar[bool] = True

    @contextmanager
    def _session(self, model: nn.Module) -> Iterator[ScoreFn]:
        def evaluate(inputs: torch.Tensor, targets: torch.Tensor | None = None) -> float:
            return synflow_log_score(model, tuple(inputs.shape[1:]), inputs.device, self.bypass_bn)

        yield evaluate


@PROXIES.register("synflow")
class Synflow(_Synflow):
    """ln of the synaptic flow with BN bypassed (data-free; all-ones input, |theta|, float64)."""

    bypass_bn = True


@PROXIES.register("synflow_bn")
class SynflowBN(_Synflow):
    """ln of the synaptic flow with BN kept in the proxy's BN mode (|BN buffers| as in the paper's code)."""

    bypass_bn = False
