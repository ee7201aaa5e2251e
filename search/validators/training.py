"""The short training the training-based validators give each candidate: seeded minibatches, SGD with
Nesterov momentum and a cosine learning rate (NB201's training recipe, which FEAR's NATS-Bench runs use),
every step's loss and accuracy recorded."""
from __future__ import annotations

import math
from typing import Callable, Iterable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..batches import BatchStream
from .validator import ValidationContext, TrainingSettings

Step = dict[str, float | int | str]
_TRAIN_DATA = 3  # (VALIDATION, 3): the training minibatches, the same for every candidate


def training_stream(ctx: ValidationContext, settings: TrainingSettings) -> tuple[BatchStream, int]:
    """The candidates' training minibatches (the same order for each) and the steps of one epoch."""
    bs = settings.val_batch_size or ctx.batch_size
    stream = BatchStream(ctx.dataset, bs, ctx.seed_for(_TRAIN_DATA), ctx.device,
                         ctx.channels_last)
    per_epoch = settings.val_steps_per_epoch or max(1, len(ctx.dataset) // bs)  # type: ignore[arg-type]
    return stream, per_epoch


def training_network(ctx: ValidationContext, settings: TrainingSettings, genotype: str) -> nn.Module:
    """The network a training validator trains: the validation network, resized by --val-train-channels/-cells."""
    return ctx.network(genotype, settings.val_train_channels, settings.val_train_cells)


def sgd(params: Iterable[nn.Parameter], settings: TrainingSettings) -> torch.optim.SGD:
    """SGD, momentum 0.9 with Nesterov, the validators' learning rate and weight decay."""
    return torch.optim.SGD(params, lr=settings.val_lr, momentum=0.9, nesterov=True,
                           weight_decay=settings.val_weight_decay)


def cosine(base_lr: float, total: int) -> Callable[[int], float]:
    """lr at step s: base_lr * (1 + cos(pi s / total)) / 2, from base_lr down to 0 at `total`."""
    return lambda s: base_lr * 0.5 * (1.0 + math.cos(math.pi * min(s, total) / max(1, total)))


def train_steps(model: nn.Module, stream: BatchStream, optimizer: torch.optim.Optimizer,
                lr_at: Callable[[int], float], steps: int, stage: str = "train",
                stop: Callable[[list[Step]], bool] | None = None) -> list[Step]:
    """Up to `steps` SGD steps on cross-entropy; each step's loss (before its update), accuracy and lr.
    `stop(curve)` after a step ends the training early (FEAR's threshold)."""
    model.train()
    curve: list[Step] = []
    for s in range(steps):
        lr = lr_at(s)
        for group in optimizer.param_groups:
            group["lr"] = lr
        x, y = stream.next()
        optimizer.zero_grad(set_to_none=True)
        logits = model(x)
        logits = logits[0] if isinstance(logits, tuple) else logits
        loss = F.cross_entropy(logits, y)
        loss.backward()
        optimizer.step()
        acc = float((logits.detach().argmax(1) == y).float().mean())
        curve.append({"stage": stage, "step": s, "loss": float(loss.detach()), "accuracy": acc, "lr": lr})
        if stop is not None and stop(curve):
            break
    return curve


def window_mean(values: Sequence[float], window: int) -> float | None:
    """Mean of the last `window` values, or None while fewer have been seen."""
    if len(values) < window:
        return None
    return sum(values[-window:]) / window


def freeze_input_side(model: nn.Module, share: float) -> list[str]:
    """Freeze parameters in the network's order (input side first) until `share` of all parameter
    values is frozen (FEAR: freeze most of the network, train the last layers); returns their names."""
    params = list(model.named_parameters())
    total = sum(p.numel() for _, p in params)
    frozen, count = [], 0
    for name, p in params:
        if count + p.numel() > share * total:
            break
        p.requires_grad_(False)
        frozen.append(name)
        count += p.numel()
    return frozen
