"""Optimiser and learning-rate schedules (a registry), each schedule stepped once per epoch."""
from __future__ import annotations

from typing import Callable

from torch import nn
from torch.optim import SGD, Optimizer
from torch.optim.lr_scheduler import CosineAnnealingLR, ExponentialLR, LambdaLR, LRScheduler

from supernet.modules import BN_TYPES
from supernet.registry import Registry

from .recipe import Recipe

ScheduleFactory = Callable[[Optimizer, Recipe], LRScheduler]
SCHEDULES: Registry[ScheduleFactory] = Registry("lr schedule")


@SCHEDULES.register("cosine")
def cosine(opt: Optimizer, recipe: Recipe) -> LRScheduler:
    """lr_min + (lr - lr_min)(1 + cos(pi t / T)) / 2 at epoch t of T (Loshchilov & Hutter 2017; DARTS CIFAR)."""
    return CosineAnnealingLR(opt, T_max=recipe.epochs, eta_min=recipe.lr_min)


@SCHEDULES.register("exp")
def exponential(opt: Optimizer, recipe: Recipe) -> LRScheduler:
    """lr x gamma^t at epoch t (DARTS ImageNet: gamma 0.97)."""
    return ExponentialLR(opt, gamma=recipe.lr_gamma)


def _one(epoch: int) -> float:
    return 1.0


@SCHEDULES.register("constant")
def constant(opt: Optimizer, recipe: Recipe) -> LRScheduler:
    """The initial lr throughout."""
    return LambdaLR(opt, _one)


def decay_groups(model: nn.Module, exempt: str) -> list[dict]:
    """Parameter groups: weight decay on every parameter except, per `exempt`, the BatchNorm weights and
    biases ('bn') and also every other bias ('bn+bias'); ProxylessNAS's --no_decay_keys (Cai et al. 2019)."""
    if exempt == "none":
        return [{"params": list(model.parameters())}]
    no_decay_ids: set[int] = set()
    for m in model.modules():
        if isinstance(m, BN_TYPES):
            no_decay_ids.update(id(p) for p in m.parameters(recurse=False))
        elif exempt == "bn+bias" and isinstance(getattr(m, "bias", None), nn.Parameter):
            no_decay_ids.add(id(m.bias))
    params = list(model.parameters())
    groups = [{"params": [p for p in params if id(p) not in no_decay_ids]},
              {"params": [p for p in params if id(p) in no_decay_ids], "weight_decay": 0.0}]
    return [g for g in groups if g["params"]]


def build_optimizer(model: nn.Module, recipe: Recipe) -> SGD:
    """SGD with momentum (Nesterov if set) at the scaled lr; weight decay on every parameter except those the
    recipe's `no_weight_decay` exempts."""
    return SGD(decay_groups(model, recipe.no_weight_decay), lr=recipe.effective_lr, momentum=recipe.momentum,
               weight_decay=recipe.weight_decay, nesterov=recipe.nesterov and recipe.momentum > 0)


def build_schedule(opt: Optimizer, recipe: Recipe) -> LRScheduler:
    """The recipe's schedule by name (UnknownNameError lists the valid ones)."""
    return SCHEDULES.create(recipe.schedule, opt=opt, recipe=recipe)
