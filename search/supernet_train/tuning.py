"""A trained supernet as the training-based scorers see it: validation accuracy under the current arch
state, fine-tuning between decisions (DARTS-PT), and snapshots to undo fine-tuning."""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Mapping

import torch
from torch import nn
from torch.utils.data import DataLoader

from supernet.modes import use_mixing

from .architects import Architect, Batch
from .data import cycle
from .trainer import SupernetTrainer, WeightSettings, evaluate, move


@dataclass
class TuneSettings:
    """DARTS-PT's fine-tuning (Wang et al. 2021): SGD at lr/10 = 0.0025, constant (its scheduler is
    created but never stepped), momentum 0.9, wd 3e-4, clip 5; alphas keep training unless fixed."""

    lr: float = 0.0025
    momentum: float = 0.9
    weight_decay: float = 3e-4
    grad_clip: float = 5.0
    fix_alpha: bool = False
    bn_mode: str = "batch"  # BN statistics when measuring accuracy


class SupernetTuner:
    """Accuracy and fine-tuning of a trained supernet for darts-pt and disc-acc.

    `train_loader(seed)` gives a shuffled pass over the training half; `valid_batches` are the fixed
    minibatches accuracy is measured on (cached after the first pass); `make_architect` builds the
    method's architect when alphas keep training during fine-tuning.
    """

    def __init__(self, model: nn.Module, alphas: Mapping[str, nn.Parameter], train_loader: Callable[[int], DataLoader],
                 valid_loader: Callable[[int], DataLoader], accuracy_batches: Iterable[Batch], mixing: str,
                 eval_mixing: str, settings: TuneSettings, make_architect: Callable[[], Architect] | None,
                 device: torch.device, channels_last: bool = False) -> None:
        self.model, self.alphas = model, dict(alphas)
        self.train_loader, self.valid_loader = train_loader, valid_loader
        self._accuracy_source: Iterable[Batch] | None = accuracy_batches
        self._accuracy_cache: list[Batch] | None = None
        self.mixing, self.eval_mixing, self.settings = mixing, eval_mixing, settings
        self.make_architect, self.device, self.channels_last = make_architect, device, channels_last
        self._trainer: SupernetTrainer | None = None
        self.tune_steps = 0  # weight steps taken since the last restore (tests and logs)

    # ----------------------------------------------------------------- scoring
    def accuracy_batches(self) -> list[Batch]:
        """The fixed validation minibatches, on the device."""
        if self._accuracy_cache is None:
            src = self._accuracy_source or []
            self._accuracy_cache = [move(b, self.device, self.channels_last) for b in src]
            self._accuracy_source = None
        return self._accuracy_cache

    def accuracy(self) -> float:
        """Validation accuracy (fraction) of the supernet under the current arch state (eval mixing)."""
        return evaluate(self.model, self.accuracy_batches(), self.eval_mixing, self.settings.bn_mode)["accuracy"]

    # ------------------------------------------------------------ fine-tuning
    def steps_per_epoch(self) -> int:
        return len(self.train_loader(0))

    def fine_tune(self, epochs: float, seed: int) -> int:
        """Train the weights (and the alphas unless fixed) for `epochs` passes over the training half
        (fractions allowed) under the current arch state; returns the number of steps taken."""
        steps = int(round(epochs * self.steps_per_epoch()))
        if steps <= 0:
            return 0
        if self._trainer is None:  # optimiser state carries over between decisions (one DARTS-PT phase)
            s = self.settings
            arch = None if s.fix_alpha or self.make_architect is None else self.make_architect()
            self._trainer = SupernetTrainer(self.model, self.alphas, arch,
                                            WeightSettings(s.lr, s.lr, s.momentum, s.weight_decay, s.grad_clip, None))
        trainer = self._trainer
        update_arch = trainer.architect is not None
        gen = torch.Generator().manual_seed(seed)
        seeds = [int(x) for x in torch.randint(0, 2 ** 62, (3,), generator=gen)]
        cuda = [self.device.index if self.device.index is not None else torch.cuda.current_device()] \
            if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=cuda):  # the search's own random stream is left as it was
            torch.manual_seed(seeds[0])
            train = (move(b, self.device, self.channels_last) for b in cycle(self.train_loader(seeds[1])))
            valid = (move(b, self.device, self.channels_last) for b in cycle(self.valid_loader(seeds[2])))
            with use_mixing(self.model, self.mixing):
                trainer.run_epoch((next(train) for _ in range(steps)), valid, update_arch)
        self.tune_steps += steps
        return steps

    # -------------------------------------------------------------- snapshots
    @contextmanager
    def trial(self) -> Iterator["SupernetTuner"]:
        """Fine-tuning inside the block (with its own optimiser) is undone on exit, exceptions too."""
        snap, trainer, steps = self.snapshot(), self._trainer, self.tune_steps
        self._trainer = None
        try:
            yield self
        finally:
            self.restore(snap)
            self._trainer, self.tune_steps = trainer, steps

    def snapshot(self) -> dict[str, Any]:
        """Weights, BN buffers and alphas, to undo fine-tuning."""
        return {"model": {k: v.detach().clone() for k, v in self.model.state_dict().items()},
                "alphas": {e: p.detach().clone() for e, p in self.alphas.items()}}

    def restore(self, snap: Mapping[str, Any]) -> None:
        """Back to `snap`; the fine-tuning optimisers start afresh."""
        self.model.load_state_dict(snap["model"])
        with torch.no_grad():
            for e, p in self.alphas.items():
                p.copy_(snap["alphas"][e])
        self._trainer = None
        self.tune_steps = 0
