"""Mixing rules: how a mixed op weighs its active ops (DARTS eq. 8 and the variants the papers use)."""
from __future__ import annotations

from typing import Callable, Sequence, Union

import torch

from .registry import Registry

Weights = Sequence[Union[float, torch.Tensor]]
# (alpha over all candidates or None, candidates, active ops) -> one weight per active op
MixingRule = Callable[[Union[torch.Tensor, None], Sequence[str], Sequence[str]], Weights]

MIXING: Registry[MixingRule] = Registry("mixing rule")


def _need_alpha(alpha: torch.Tensor | None, rule: str) -> torch.Tensor:
    if alpha is None:
        raise ValueError(f"mixing rule {rule!r} needs architecture parameters (alphas); use 'uniform'")
    return alpha


@MIXING.register("uniform")
def uniform(alpha: torch.Tensor | None, candidates: Sequence[str], active: Sequence[str]) -> Weights:
    """1/|active| per active op: the untrained supernet A_0 of Zero-Cost-PT (alphas unused)."""
    return [1.0 / len(active)] * len(active)


@MIXING.register("uniform-fixed")
def uniform_fixed(alpha: torch.Tensor | None, candidates: Sequence[str], active: Sequence[str]) -> Weights:
    """1/|candidates| per active op, removed ops dropped without renormalisation: how the published Zero-Cost-PT
    code perturbs for proxies other than nwot (proj_weights[e][o] = 0, the rest 1/num_op)."""
    return [1.0 / len(candidates)] * len(active)


@MIXING.register("sum")
def plain_sum(alpha: torch.Tensor | None, candidates: Sequence[str], active: Sequence[str]) -> Weights:
    """Unweighted sum of active ops (the MobileNet-like supernet of Zero-Cost-PT)."""
    return [1.0] * len(active)


def _active_index(candidates: Sequence[str], active: Sequence[str]) -> list[int]:
    pos = {o: i for i, o in enumerate(candidates)}
    return [pos[o] for o in active]


@MIXING.register("softmax")
def softmax_renorm(alpha: torch.Tensor | None, candidates: Sequence[str], active: Sequence[str]) -> Weights:
    """softmax(alpha) over the active ops only (renormalised after a perturbation)."""
    a = _need_alpha(alpha, "softmax")
    w = torch.softmax(a[_active_index(candidates, active)], dim=-1)
    return list(w.unbind(-1))


@MIXING.register("softmax-fixed")
def softmax_fixed(alpha: torch.Tensor | None, candidates: Sequence[str], active: Sequence[str]) -> Weights:
    """softmax(alpha) over all candidates, removed ops dropped without renormalisation (DARTS-PT's mask)."""
    a = _need_alpha(alpha, "softmax-fixed")
    w = torch.softmax(a, dim=-1)[_active_index(candidates, active)]
    return list(w.unbind(-1))


def dirichlet_concentration(alpha: torch.Tensor) -> torch.Tensor:
    """DrNAS (Chen et al. 2021) concentration beta = ELU(alpha) + 1 > 0."""
    return torch.nn.functional.elu(alpha) + 1.0


@MIXING.register("dirichlet")
def dirichlet_sample(alpha: torch.Tensor | None, candidates: Sequence[str], active: Sequence[str]) -> Weights:
    """DrNAS: a fresh reparameterised sample of Dirichlet(ELU(alpha) + 1) over the active ops, every call.

    Restricting a Dirichlet to a subset and renormalising gives Dirichlet(beta_subset), so sampling
    over the active ops equals DrNAS's mask-and-renormalise of a full sample.
    """
    a = _need_alpha(alpha, "dirichlet")
    beta = dirichlet_concentration(a[_active_index(candidates, active)])
    w = torch.distributions.Dirichlet(beta).rsample()
    return list(w.unbind(-1))


@MIXING.register("dirichlet-mean")
def dirichlet_mean(alpha: torch.Tensor | None, candidates: Sequence[str], active: Sequence[str]) -> Weights:
    """Mean beta / sum(beta) of DrNAS's Dirichlet over all candidates, removed ops dropped without
    renormalisation (deterministic evaluation of a DrNAS supernet, as softmax-fixed is for DARTS)."""
    a = _need_alpha(alpha, "dirichlet-mean")
    beta = dirichlet_concentration(a)
    w = (beta / beta.sum(-1, keepdim=True))[_active_index(candidates, active)]
    return list(w.unbind(-1))
