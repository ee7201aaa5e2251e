"""Architecture (alpha) updates, one class per supernet-training method, registered in ARCHITECTS.

- darts      (Liu et al. 2019, eq. 6 with xi = 0): first-order gradient of the validation loss.
- darts-2nd  (eq. 7): gradient of L_val(w - xi * (SGD step on L_train), alpha), taken exactly by
             autograd through one virtual SGD step (momentum and weight decay included), not by
             the finite-difference Hessian-vector product of eq. 8.
- drnas      (Chen et al. 2021): mixing weights ~ Dirichlet(ELU(alpha) + 1), reparameterised sample at
             every forward; first-order validation gradient plus an L2 (Adam weight decay) or KL
             (to Dirichlet(1)) regulariser.
- darts-tse / drnas-tse (Ru et al. 2021, App. G.3, Alg. 3): no validation data; the update uses the SUM of
             the alpha-gradients of the training loss over K consecutive weight-training minibatches,
             each taken at the weights of that minibatch's step (before its update), and is applied
             after the K-th step (so no zero first update and no dropped last block, unlike Alg. 3's
             literal order). A block may span epochs; the partial sum is part of the checkpoint.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from supernet.mixing import dirichlet_concentration
from supernet.registry import Registry

Batch = tuple[torch.Tensor, torch.Tensor]
Grads = Sequence["torch.Tensor | None"]


@dataclass
class ArchSettings:
    """Alpha optimiser and method settings (Adam as in DARTS; DrNAS regulariser; TSE's K)."""

    lr: float = 3e-4
    betas: tuple[float, float] = (0.5, 0.999)
    weight_decay: float = 1e-3
    reg: str = "l2"
    reg_scale: float = 1e-3
    tse_steps: int = 100


class Architect:
    """Updates the alphas of a supernet. The trainer calls `before_weight_step` before each weight
    step (bilevel methods update there) and `after_weight_backward` once the weight step's backward
    has put the training-loss gradients in `.grad` (TSE methods accumulate there)."""

    name: ClassVar[str] = ""
    mixing: ClassVar[str] = "softmax"             # mixing rule while training
    eval_mixing: ClassVar[str] = "softmax-fixed"  # deterministic rule for evaluation and scoring
    uses_validation: ClassVar[bool] = True        # bilevel: needs validation minibatches
    needs_train_alpha_grads: ClassVar[bool] = False

    def __init__(self, model: nn.Module, alphas: Mapping[str, nn.Parameter], settings: ArchSettings) -> None:
        self.model = model
        self.alphas = dict(alphas)
        self.params = list(self.alphas.values())
        self.settings = settings
        self.optimizer = torch.optim.Adam(self.params, lr=settings.lr, betas=settings.betas,
                                          weight_decay=self.adam_weight_decay())

    def adam_weight_decay(self) -> float:
        """L2 strength on the alphas (DARTS: 1e-3)."""
        return self.settings.weight_decay

    def regulariser(self) -> torch.Tensor | None:
        """An extra term of the architecture objective (DrNAS KL); none by default."""
        return None

    def before_weight_step(self, train: Batch, valid: Batch | None, weight_opt: torch.optim.SGD) -> dict[str, float]:
        """Architecture update of bilevel methods; returns validation metrics of the step."""
        return {}

    def after_weight_backward(self) -> bool:
        """TSE methods accumulate the alphas' training-loss gradients; True when alphas were updated."""
        return False

    def apply(self, grads: Grads) -> None:
        """One Adam step on the alphas with `grads` (plus the regulariser's gradient)."""
        total = [torch.zeros_like(p) if g is None else g.detach().clone() for p, g in zip(self.params, grads)]
        reg = self.regulariser()
        if reg is not None:
            for t, g in zip(total, torch.autograd.grad(reg, self.params, allow_unused=True)):
                if g is not None:
                    t.add_(g)
        for p, g in zip(self.params, total):
            p.grad = g
        self.optimizer.step()
        for p in self.params:
            p.grad = None

    def state_dict(self) -> dict[str, Any]:
        return {"optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.optimizer.load_state_dict(state["optimizer"])


ARCHITECTS: Registry[type[Architect]] = Registry("method")


def _loss_and_metrics(logits: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
    loss = F.cross_entropy(logits, y)
    return loss, {"valid_loss": float(loss.detach()) * len(y),
                  "valid_correct": float((logits.detach().argmax(1) == y).sum()), "valid_count": float(len(y))}


class _FirstOrder(Architect):
    """Gradient of the validation loss at the current weights (xi = 0)."""

    def before_weight_step(self, train: Batch, valid: Batch | None, weight_opt: torch.optim.SGD) -> dict[str, float]:
        if valid is None:
            raise ValueError(f"method {self.name!r} needs validation minibatches")
        x, y = valid
        loss, metrics = _loss_and_metrics(self.model(x), y)
        self.apply(torch.autograd.grad(loss, self.params, allow_unused=True))
        return metrics


@ARCHITECTS.register("darts")
class DartsFirstOrder(_FirstOrder):
    """DARTS, first order: alpha <- Adam(grad_alpha L_val(w, alpha))."""


def unrolled_alpha_grads(model: nn.Module, alphas: Sequence[torch.Tensor], train: Batch, valid: Batch,
                         weight_opt: torch.optim.SGD) -> tuple[Grads, torch.Tensor, torch.Tensor]:
    """d/d alpha of L_val(w', alpha) with w' = w - xi * (momentum * buf + grad_w L_train(w, alpha) + wd * w),
    the step `weight_opt` (SGD) would take (DARTS eq. 7; xi = its current lr). Module buffers are
    left untouched. Returns (alpha gradients, validation loss, validation logits)."""
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    names, params = [n for n, _ in named], [p for _, p in named]
    group = weight_opt.param_groups[0]
    xi, momentum, wd = group["lr"], group.get("momentum", 0.0), group.get("weight_decay", 0.0)

    def buffers() -> dict[str, torch.Tensor]:
        return {n: b.clone() for n, b in model.named_buffers()}

    x, y = train
    loss_t = F.cross_entropy(functional_call(model, {**dict(named), **buffers()}, (x,)), y)
    grads = torch.autograd.grad(loss_t, params, create_graph=True, allow_unused=True)
    unrolled: dict[str, torch.Tensor] = {}
    for n, p, g in zip(names, params, grads):
        step = wd * p.detach()
        if g is not None:
            step = step + g
        buf = weight_opt.state.get(p, {}).get("momentum_buffer") if momentum else None
        if buf is not None:
            step = step + momentum * buf
        unrolled[n] = p.detach() - xi * step
    xv, yv = valid
    logits = functional_call(model, {**unrolled, **buffers()}, (xv,))
    loss_v = F.cross_entropy(logits, yv)
    return torch.autograd.grad(loss_v, list(alphas), allow_unused=True), loss_v, logits


@ARCHITECTS.register("darts-2nd")
class DartsSecondOrder(Architect):
    """DARTS, second order (unrolled): the validation loss after one virtual weight step."""

    def before_weight_step(self, train: Batch, valid: Batch | None, weight_opt: torch.optim.SGD) -> dict[str, float]:
        if valid is None:
            raise ValueError("method 'darts-2nd' needs validation minibatches")
        grads, _, logits = unrolled_alpha_grads(self.model, self.params, train, valid, weight_opt)
        self.apply(grads)
        return _loss_and_metrics(logits.detach(), valid[1])[1]


class _Dirichlet(Architect):
    """DrNAS's relaxation: Dirichlet mixing; regulariser L2 (Adam weight decay) or KL to Dirichlet(1)."""

    mixing = "dirichlet"
    eval_mixing = "dirichlet-mean"

    def adam_weight_decay(self) -> float:
        return self.settings.reg_scale if self.settings.reg == "l2" else 0.0

    def regulariser(self) -> torch.Tensor | None:
        """reg_scale * sum over edges of KL(Dir(ELU(alpha) + 1) || Dir(1)) when reg = 'kl'."""
        if self.settings.reg != "kl":
            return None
        total = None
        for a in self.params:
            beta = dirichlet_concentration(a)
            kl = torch.distributions.kl_divergence(torch.distributions.Dirichlet(beta),
                                                   torch.distributions.Dirichlet(torch.ones_like(beta)))
            total = kl if total is None else total + kl
        return None if total is None else self.settings.reg_scale * total


@ARCHITECTS.register("drnas")
class DrNAS(_Dirichlet, _FirstOrder):
    """DrNAS: first-order validation gradient through the Dirichlet sample, plus the regulariser."""


class _TSE(Architect):
    """-TSE: sum of the training-loss alpha-gradients over K weight steps, then one Adam step."""

    uses_validation = False
    needs_train_alpha_grads = True

    def __init__(self, model: nn.Module, alphas: Mapping[str, nn.Parameter], settings: ArchSettings) -> None:
        super().__init__(model, alphas, settings)
        self.sum = [torch.zeros_like(p) for p in self.params]
        self.count = 0

    def after_weight_backward(self) -> bool:
        for s, p in zip(self.sum, self.params):
            if p.grad is not None:
                s.add_(p.grad)
        self.count += 1
        if self.count < self.settings.tse_steps:
            return False
        self.apply(self.sum)
        self.sum = [torch.zeros_like(p) for p in self.params]
        self.count = 0
        return True

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "sum": [s.clone() for s in self.sum], "count": self.count}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        super().load_state_dict(state)
        self.sum = [s.clone().to(p.device) for s, p in zip(state["sum"], self.params)]
        self.count = int(state["count"])


@ARCHITECTS.register("darts-tse")
class DartsTSE(_TSE):
    """DARTS-TSE: softmax mixing, summed training-loss gradients."""


@ARCHITECTS.register("drnas-tse")
class DrNASTSE(_Dirichlet, _TSE):
    """DrNAS-TSE (eq. 10): Dirichlet mixing, summed training-loss gradients, DrNAS regulariser."""
