"""Supernet training settings: published defaults (DARTS, DrNAS, TSE), YAML files, flags, validation."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from ..config import ConfigError
from .architects import ARCHITECTS

REGULARISERS = ("l2", "kl")
DEFAULT_EPOCHS = {"nb201": 100}  # Dong & Yang 2020 (NB201 baselines); every other space: 50 (DARTS)
OTHER_SPACES_EPOCHS = 50


@dataclass
class SupernetTrainConfig:
    """Every setting of `opscore train-supernet`; YAML keys and `--flags` use these names."""

    space: str = "nb201"
    method: str = "darts"
    epochs: int | None = None          # None: 100 on nb201, 50 elsewhere (as published)
    batch_size: int = 64
    seed: int = 0
    dataset: str = "cifar10"
    data_root: str | None = None
    download: bool = False
    augment: bool = True               # crop + flip on both halves of the split, as DARTS's search
    train_portion: float = 0.5         # weights train on this share of the training set, alphas on the rest
    device: str = "auto"
    workers: int = 0                   # data-loading processes
    channels_last: bool = True         # NHWC memory layout (faster convolutions)
    channels: int | None = None        # supernet width (space default when unset)
    cells: int | None = None           # supernet depth (space default when unset)
    include_none: bool | None = None   # darts: 'none' among the candidates (space default when unset)
    # weights: SGD, cosine from lr to lr_min over the epochs (DARTS)
    lr: float = 0.025
    lr_min: float = 0.001
    momentum: float = 0.9
    weight_decay: float = 3e-4
    grad_clip: float = 5.0
    # alphas: Adam (DARTS); DrNAS uses reg_scale as its L2 / KL strength instead of arch_weight_decay
    arch_lr: float = 3e-4
    arch_beta1: float = 0.5
    arch_beta2: float = 0.999
    arch_weight_decay: float = 1e-3
    alpha_init_std: float = 1e-3       # alphas start as alpha_init_std * N(0, 1) (DARTS)
    arch_start_epoch: int = 0          # epochs of weight-only warm-up before alphas are updated
    tse_steps: int = 100               # K: minibatches whose alpha-gradients one -TSE update sums (Ru et al.)
    reg: str = "l2"                    # DrNAS regulariser: 'l2' (Adam weight decay) or 'kl' (to Dirichlet(1))
    reg_scale: float = 1e-3
    eval_batches: int | None = None    # validation minibatches scored after each epoch (None: all, 0: none)
    benchmark_table: str | None = None  # NB201 table: look up the argmax-alpha genotype after each epoch
    out: str | None = None

    def resolved_epochs(self) -> int:
        """The epoch count, the published default of the space when unset."""
        if self.epochs is not None:
            return self.epochs
        return DEFAULT_EPOCHS.get(self.space, OTHER_SPACES_EPOCHS)

    def space_options(self) -> dict[str, Any]:
        """The space options that are set, for `get_space(space, **options)`."""
        return {} if self.include_none is None else {"include_none": self.include_none}

    def validate(self) -> "SupernetTrainConfig":
        """Range checks, and the method name."""
        ARCHITECTS.get(self.method)  # an unknown name lists the methods
        if self.reg not in REGULARISERS:
            raise ConfigError(f"unknown regulariser {self.reg!r}; choose one of: {', '.join(REGULARISERS)}")
        if self.epochs is not None and self.epochs < 1:
            raise ConfigError(f"--epochs must be at least 1, got {self.epochs}")
        if self.batch_size < 2:
            raise ConfigError(f"batch size must be at least 2, got {self.batch_size}")
        if not 0.0 < self.train_portion < 1.0:
            raise ConfigError(f"--train-portion must lie strictly between 0 and 1, got {self.train_portion}")
        if self.tse_steps < 1:
            raise ConfigError(f"--tse-steps (K) must be at least 1, got {self.tse_steps}")
        if self.eval_batches is not None and self.eval_batches < 0:
            raise ConfigError(f"--eval-batches must be 0 (none) or more, got {self.eval_batches}")
        if self.workers < 0:
            raise ConfigError(f"--workers must be 0 or more, got {self.workers}")
        if self.arch_start_epoch < 0:
            raise ConfigError(f"--arch-start-epoch must be 0 or more, got {self.arch_start_epoch}")
        for name in ("lr", "arch_lr"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"--{name.replace('_', '-')} must be positive, got {getattr(self, name)}")
        return self

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
