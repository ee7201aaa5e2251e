"""Bilevel supernet training: per step an architecture update (the method's architect), then one SGD
step of the weights on a training minibatch (Liu et al. 2019, Alg. 1; Ru et al. 2021, Alg. 3)."""
from __future__ import annotations

from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from supernet.arch_state import ArchState
from supernet.modes import preserved, use_mixing

from .architects import Architect, Batch


def init_alphas(state: ArchState, std: float, device: torch.device | str = "cpu") -> dict[str, nn.Parameter]:
    """alpha_e = std * N(0, I) over e's candidates (DARTS), stored in `state.alphas` as Parameters.

    Uses the global torch generator (the caller seeds it); the supernet's mixed ops read this mapping.
    """
    for e in state.edge_ids():
        state.alphas[e] = nn.Parameter(std * torch.randn(len(state.candidates(e))).to(device))
    return {e: state.alphas[e] for e in state.edge_ids()}  # type: ignore[misc]


@contextmanager
def alpha_grads(alphas: Iterable[nn.Parameter], enabled: bool) -> Iterator[None]:
    """Alphas take part in autograd only when `enabled` (saves the mixing-weight gradients otherwise)."""
    params = list(alphas)
    old = [p.requires_grad for p in params]
    for p in params:
        p.requires_grad_(enabled)
        p.grad = None
    try:
        yield
    finally:
        for p, r in zip(params, old):
            p.requires_grad_(r)


def move(batch: Batch, device: torch.device, channels_last: bool = False) -> Batch:
    """A loader batch on `device` (NHWC images when `channels_last`)."""
    x, y = batch
    x = x.to(device, non_blocking=True)
    if channels_last and x.dim() == 4:
        x = x.contiguous(memory_format=torch.channels_last)
    return x, y.to(device, non_blocking=True)


@torch.no_grad()
def evaluate(model: nn.Module, batches: Iterable[Batch], mixing: str, bn_mode: str = "batch") -> dict[str, float]:
    """Loss and accuracy of the supernet on `batches` under the mixing rule `mixing`; BN uses the batch
    statistics (as DARTS-PT's projection) without touching the running buffers; the model is restored."""
    loss = correct = count = 0.0
    with preserved(model, bn_mode), use_mixing(model, mixing):
        for x, y in batches:
            logits = model(x)
            loss += float(F.cross_entropy(logits, y, reduction="sum"))
            correct += float((logits.argmax(1) == y).sum())
            count += len(y)
    if count == 0:
        return {"loss": float("nan"), "accuracy": float("nan")}
    return {"loss": loss / count, "accuracy": correct / count}


@dataclass
class WeightSettings:
    """SGD of the supernet weights (DARTS: lr 0.025 cosine to 0.001, momentum 0.9, wd 3e-4, clip 5)."""

    lr: float = 0.025
    lr_min: float = 0.001
    momentum: float = 0.9
    weight_decay: float = 3e-4
    grad_clip: float = 5.0
    epochs: int | None = None  # cosine schedule length; None: constant lr (DARTS-PT fine-tuning)


class SupernetTrainer:
    """Weights (SGD) and alphas (the architect) of one supernet; `state_dict` holds everything needed
    to continue exactly."""

    def __init__(self, model: nn.Module, alphas: Mapping[str, nn.Parameter], architect: Architect | None,
                 ws: WeightSettings) -> None:
        self.model, self.alphas, self.architect, self.ws = model, dict(alphas), architect, ws
        self.weights = [p for p in model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.SGD(self.weights, lr=ws.lr, momentum=ws.momentum, weight_decay=ws.weight_decay)
        self.scheduler = (torch.optim.lr_scheduler.CosineAnnealingLR(self.optimizer, T_max=ws.epochs, eta_min=ws.lr_min)
                          if ws.epochs else None)

    @property
    def lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    def step(self, train: Batch, valid: Batch | None, update_arch: bool) -> dict[str, float]:
        """One training step; returns summed metrics (losses times batch size, correct counts)."""
        arch = self.architect if update_arch else None
        metrics: dict[str, float] = {}
        if arch is not None and arch.uses_validation:
            metrics.update(arch.before_weight_step(train, valid, self.optimizer))
            metrics["arch_updates"] = 1.0
        track = arch is not None and arch.needs_train_alpha_grads
        x, y = train
        self.optimizer.zero_grad(set_to_none=True)
        with alpha_grads(self.alphas.values(), track):
            logits = self.model(x)
            loss = F.cross_entropy(logits, y)
            loss.backward()
            if track and arch.after_weight_backward():  # type: ignore[union-attr]
                metrics["arch_updates"] = 1.0
        if self.ws.grad_clip > 0:
            nn.utils.clip_grad_norm_(self.weights, self.ws.grad_clip)
        self.optimizer.step()
        metrics.update(train_loss=float(loss.detach()) * len(y), train_count=float(len(y)),
                       train_correct=float((logits.detach().argmax(1) == y).sum()))
        return metrics

    def run_epoch(self, train_batches: Iterable[Batch], valid_batches: Iterator[Batch] | None, update_arch: bool,
                  on_step: Callable[[int], None] | None = None) -> dict[str, float]:
        """One pass over `train_batches` (one valid batch per step for bilevel methods), then the
        scheduler step; returns the epoch's mean metrics."""
        self.model.train()
        lr = self.lr
        bilevel = update_arch and self.architect is not None and self.architect.uses_validation
        sums: dict[str, float] = defaultdict(float)
        steps = 0
        for train in train_batches:
            valid = next(valid_batches) if bilevel and valid_batches is not None else None
            for k, v in self.step(train, valid, update_arch).items():
                sums[k] += v
            steps += 1
            if on_step is not None:
                on_step(steps)
        if self.scheduler is not None:
            self.scheduler.step()
        out = {"lr": lr, "steps": float(steps), "arch_updates": sums.get("arch_updates", 0.0)}
        if sums.get("train_count"):
            out.update(train_loss=sums["train_loss"] / sums["train_count"],
                       train_acc=sums["train_correct"] / sums["train_count"])
        if sums.get("valid_count"):
            out.update(arch_valid_loss=sums["valid_loss"] / sums["valid_count"],
                       arch_valid_acc=sums["valid_correct"] / sums["valid_count"])
        return out

    def state_dict(self) -> dict[str, Any]:
        return {"model": self.model.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
                "architect": self.architect.state_dict() if self.architect is not None else None,
                "alphas": {e: p.detach().clone() for e, p in self.alphas.items()}}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None and state.get("scheduler") is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        with torch.no_grad():
            for e, p in self.alphas.items():
                p.copy_(state["alphas"][e])
        if self.architect is not None and state.get("architect") is not None:
            self.architect.load_state_dict(state["architect"])
