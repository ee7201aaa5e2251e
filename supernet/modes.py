"""Temporary modes of a supernet, restored on exit: scoring mode (eval, BN statistics) and the mixing rule.

Used by the proxies while they score and by the supernet trainer while it measures accuracy.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from torch import nn

from .mixed_op import MixedOp
from .modules import BN_TYPES

BN_MODES = ("batch", "eval")


@contextmanager
def preserved(model: nn.Module, bn_mode: str) -> Iterator[nn.Module]:
    """Put `model` in scoring mode and restore modes, BN flags and requires_grad afterwards.

    bn_mode 'batch': BN normalises with the batch statistics (as NASWOT recommends) without
    updating its running buffers; 'eval': BN uses its running statistics (the published ZC-PT code).
    Every other module is in eval mode (no dropout / drop-path while scoring).
    """
    modes = [(m, m.training) for m in model.modules()]
    tracks = [(m, m.track_running_stats) for m in model.modules() if isinstance(m, BN_TYPES)]
    grads = [(p, p.requires_grad) for p in model.parameters()]
    try:
        model.eval()
        if bn_mode == "batch":
            for m, _ in tracks:
                m.train()
                m.track_running_stats = False  # use batch stats, leave the buffers alone
        yield model
    finally:
        for m, t in modes:
            m.training = t
        for m, t in tracks:
            m.track_running_stats = t
        for p, g in grads:
            p.requires_grad_(g)


@contextmanager
def use_mixing(model: nn.Module, rule: str) -> Iterator[None]:
    """Every mixed op of `model` mixes with `rule` for the block (e.g. the Dirichlet mean to evaluate)."""
    mixed = [m for m in model.modules() if isinstance(m, MixedOp)]
    old = [m.mixing for m in mixed]
    for m in mixed:
        m.mixing = rule
    try:
        yield
    finally:
        for m, r in zip(mixed, old):
            m.mixing = r
