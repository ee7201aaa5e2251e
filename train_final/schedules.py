"""Optimiser and learning-rate schedules (a registry), each schedule stepped once per epoch."""
from __future__ import annotations

from typing import Callable

from torch import nn
from torch.optim import SGD, Optimizer
from torch.optim.lr_scheduler import CosineAnnealingLR, ExponentialLR, LambdaLR, LRScheduler

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


def build_optimizer(model: nn.Module, recipe: Recipe) -> SGD:
    """SGD with momentum (Nesterov if set) and weight decay on every parameter, at the scaled lr."""
    return SGD(model.parameters(), lr=recipe.effective_lr, momentum=recipe.momentum,
               weight_decay=recipe.weight_decay, nesterov=recipe.nesterov and recipe.momentum > 0)


def build_schedule(opt: Optimizer, recipe: Recipe) -> LRScheduler:
    """The recipe's schedule by name (UnknownNameError lists the valid ones)."""
    return SCHEDULES.create(recipe.schedule, opt=opt, recipe=recipe)
