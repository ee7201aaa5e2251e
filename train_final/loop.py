"""One training epoch and one evaluation pass, shared by every recipe (mixed precision, channels-last, DDP)."""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Iterable

import torch
import torch.nn.functional as F
from torch import nn
from torch.optim import Optimizer

from runtime.distributed import DistEnv
from .metrics import MetricSums
from .recipe import RecipeError

_AMP_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass
class StepSettings:
    """How each step runs: precision, memory format, loss terms, clipping."""

    device: torch.device
    amp: str = "none"
    channels_last: bool = False
    auxiliary_weight: float = 0.0
    label_smoothing: float = 0.0
    grad_clip: float | None = None

    def autocast(self) -> contextlib.AbstractContextManager:
        """Mixed-precision region (a no-op for amp 'none')."""
        if self.amp == "none":
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=_AMP_DTYPES[self.amp])

    def to_device(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        nb = self.device.type == "cuda"
        x = x.to(self.device, non_blocking=nb)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x, y.to(self.device, non_blocking=nb)


def make_scaler(settings: StepSettings) -> torch.amp.GradScaler:
    """Loss scaling for fp16 only (bf16 and fp32 need none; a disabled scaler is a pass-through)."""
    return torch.amp.GradScaler(settings.device.type, enabled=settings.amp == "fp16")


def split_output(out: torch.Tensor | tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(logits, auxiliary logits or None): DARTS networks return a pair in training mode with the aux head."""
    if isinstance(out, (tuple, list)):
        return out[0], out[1]
    return out, None


def train_one_epoch(model: nn.Module, batches: Iterable, opt: Optimizer, scaler: torch.amp.GradScaler,
                    s: StepSettings, env: DistEnv) -> dict[str, float]:
    """One pass over `batches`: loss = CE(logits) + w * CE(aux logits), clipped, scaled; metrics reduced."""
    model.train()
    sums = MetricSums(s.device)
    for x, y in batches:
        x, y = s.to_device(x, y)
        with s.autocast():
            logits, aux = split_output(model(x))
            loss = F.cross_entropy(logits.float(), y, label_smoothing=s.label_smoothing)
            total = loss
            if s.auxiliary_weight > 0:
                if aux is None:
                    raise RecipeError(f"the recipe sets auxiliary_weight {s.auxiliary_weight} but this network has "
                                      "no auxiliary head; pass --auxiliary-weight 0 or use the space's own recipe")
                total = loss + s.auxiliary_weight * F.cross_entropy(aux.float(), y,
                                                                     label_smoothing=s.label_smoothing)
        opt.zero_grad(set_to_none=True)
        scaler.scale(total).backward()
        if s.grad_clip is not None:
            scaler.unscale_(opt)
            nn.utils.clip_grad_norm_(model.parameters(), s.grad_clip)
        scaler.step(opt)
        scaler.update()
        sums.update(loss.detach(), logits.detach(), y)
    return sums.reduce(env)


@torch.no_grad()
def evaluate(model: nn.Module, batches: Iterable, s: StepSettings, env: DistEnv) -> dict[str, float]:
    """Mean cross-entropy and top-1/top-5 (percent) over every process's share of `batches`."""
    model.eval()
    sums = MetricSums(s.device)
    for x, y in batches:
        x, y = s.to_device(x, y)
        with s.autocast():
            logits, _ = split_output(model(x))
        sums.update(F.cross_entropy(logits.float(), y), logits.float(), y)
    return sums.reduce(env)
