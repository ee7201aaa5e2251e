"""Supernet training settings: published defaults (DARTS, DrNAS, TSE), YAML files, flags, validation."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from runtime.seeds import SEED_MAX
from runtime.settings import setting
from runtime.image_check import BAD_IMAGE_POLICIES

from ..config import ConfigError
from .architects import ARCHITECTS

REGULARISERS = ("l2", "kl")
DEFAULT_EPOCHS = {"nb201": 100}  # Dong & Yang 2020 (NB201 baselines); every other space: 50 (DARTS)
OTHER_SPACES_EPOCHS = 50


@dataclass
class SupernetTrainConfig:
    """Every setting of `opscore train-supernet`; YAML keys and `--flags` use these names."""

    space: str = setting("nb201", "search space (opscore list)")
    method: str = setting("darts", "darts | darts-2nd | drnas | darts-tse | drnas-tse")
    epochs: int | None = setting(None, "epochs (default: 100 on nb201, 50 elsewhere, as published)")
    batch_size: int = setting(64, "minibatch size", minimum=2)
    seed: int = setting(0, "random seed of the run", minimum=0, maximum=SEED_MAX)
    dataset: str = setting("cifar10", "cifar10 | cifar100 | imagefolder | imagenet | synthetic")
    data_root: str | None = setting(None, "data folder (for imagefolder: class subfolders, or train/ and test/)",
                                    path=True)
    download: bool = setting(False, "allow downloading CIFAR")
    bad_images: str = setting("fail", "an image folder's unreadable images (each is decoded once before the run): "
                                      "fail naming the first, skip each with a warning, or off (no check)",
                              choices=BAD_IMAGE_POLICIES)
    augment: bool = setting(True, "crop + flip on both halves of the split, as DARTS's search")
    train_portion: float = setting(0.5, "share of the training set that trains the weights (the alphas train on the "
                                        "rest)")
    device: str = setting("auto", "auto (CUDA when present) | cpu | cuda | cuda:N")
    workers: int = setting(0, "data-loading processes")
    channels_last: bool = setting(True, "NHWC memory layout (faster convolutions)")
    channels: int | None = setting(None, "supernet width (default: the space's)", minimum=1)
    cells: int | None = setting(None, "supernet depth, cells per stage for nb201 (default: the space's)",
                                   minimum=1)
    include_none: bool | None = setting(None, "darts: make 'none' a candidate op (default: the space's)")
    # weights: SGD, cosine from lr to lr_min over the epochs (DARTS)
    lr: float = setting(0.025, "weights: initial SGD learning rate")
    lr_min: float = setting(0.001, "weights: final cosine learning rate")
    momentum: float = setting(0.9, "weights: SGD momentum", flag=False)
    weight_decay: float = setting(3e-4, "weights: SGD weight decay", flag=False)
    grad_clip: float = setting(5.0, "weights: max global gradient norm", flag=False)
    # alphas: Adam (DARTS); DrNAS uses reg_scale as its L2 / KL strength instead of arch_weight_decay
    arch_lr: float = setting(3e-4, "alphas: Adam learning rate")
    arch_beta1: float = setting(0.5, "alphas: Adam beta1", flag=False)
    arch_beta2: float = setting(0.999, "alphas: Adam beta2", flag=False)
    arch_weight_decay: float = setting(1e-3, "alphas: Adam weight decay of the DARTS methods")
    alpha_init_std: float = setting(1e-3, "alphas start as alpha_init_std * N(0, 1) (DARTS)", flag=False)
    arch_start_epoch: int = setting(0, "epochs of weight-only warm-up before the alphas are updated")
    tse_steps: int = setting(100, "-TSE: K minibatches whose alpha-gradients one update sums (Ru et al.)")
    reg: str = setting("l2", "DrNAS regulariser: 'l2' (Adam weight decay) or 'kl' (to Dirichlet(1))",
                       choices=REGULARISERS)
    reg_scale: float = setting(1e-3, "DrNAS regulariser strength")
    eval_batches: int | None = setting(None, "validation minibatches scored after each epoch (default: all; 0: none)")
    benchmark_table: str | None = setting(None, "NB201 CSV: look up the argmax-alpha genotype after every epoch",
                                          path=True)
    out: str | None = setting(None, "run directory (default: runs/supernet-<time>)")

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
