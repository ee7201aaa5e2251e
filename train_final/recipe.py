"""Training recipes: every setting of a retraining run, read from `configs/train-<name>.yaml` plus overrides."""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping


from runtime.seeds import SEED_MAX
from runtime.settings import SettingsError, check_values, read_yaml_settings, setting

from runtime.image_check import BAD_IMAGE_POLICIES

AMP_MODES = ("none", "bf16", "fp16")
NO_DECAY = ("none", "bn", "bn+bias")  # parameters exempt from weight decay (ProxylessNAS --no_decay_keys)
RECIPE_PREFIX = "train-"
# settings that may change between a run and its resumption (they do not change the numbers)
RESUME_FREE = frozenset({"device", "workers", "data_root", "download", "cudnn_benchmark"})


class RecipeError(ValueError):
    """A recipe name, file or value that cannot work; the message names the fix."""


@dataclass
class Recipe:
    """Every setting of a retraining run; YAML keys and `--flags` use these names (dashes for underscores)."""

    name: str = setting("custom", "recipe name (the file's, train-<name>.yaml)", flag=False)
    space: str | None = setting(None, "search space, filled from the genotype source", flag=False)
    genotype: str | None = setting(None, "the genotype in its space's text format", flag=False)
    # network
    channels: int | None = setting(None, "initial channels C (default: the space's)", minimum=1)
    cells: int | None = setting(None, "cells (DARTS: total; NB201: per stage) (default: the space's)",
                                   minimum=1)
    auxiliary_weight: float = setting(0.0, "auxiliary head loss weight (0: no head)")
    drop_path: float = setting(0.0, "final drop-path probability (ramped linearly from 0 over the epochs)")
    # data
    dataset: str = setting("cifar10", "cifar10 | cifar100 | imagefolder | imagenet | synthetic")
    data_root: str | None = setting(None, "data folder (imagenet/imagefolder: train/ and test/ or val/ of class "
                                          "folders)", path=True)
    download: bool = setting(False, "allow downloading CIFAR")
    bad_images: str = setting("fail", "an image folder's unreadable images (each is decoded once before the run): "
                                      "fail naming the first, skip each with a warning, or off (no check)",
                              choices=BAD_IMAGE_POLICIES)
    image_size: int = setting(32, "side of the training images", minimum=8)
    augment: bool = setting(True, "CIFAR: crop 32 pad 4 + flip; ImageNet: RandomResizedCrop + flip + jitter",
                            flag=False)
    cutout: int = setting(0, "cutout side (0: off)", minimum=0)
    val_split: float = setting(0.0, "hold out this fraction (< 1) or number of training images for model selection")
    synthetic_size: int = setting(512, "images of the synthetic training set", flag=False)
    workers: int = setting(2, "data-loader processes per training process")
    # optimisation
    epochs: int = setting(1, "training epochs")
    batch_size: int = setting(96, "global batch size (split over the processes)", minimum=2)
    lr: float = setting(0.025, "learning rate at the recipe's reference batch")
    lr_reference_batch: int | None = setting(None, "linear scaling: lr * batch_size / this (default: no scaling)",
                                             flag=False)
    momentum: float = setting(0.9, "SGD momentum", flag=False)
    nesterov: bool = setting(False, "Nesterov momentum", flag=False)
    weight_decay: float = setting(3e-4, "SGD weight decay")
    no_weight_decay: str = setting("none", "parameters without weight decay: none, bn (BatchNorm weights and biases), "
                                           "bn+bias (also every bias)", choices=NO_DECAY)
    schedule: str = setting("cosine", "lr schedule: cosine | exp | constant, stepped once per epoch", flag=False)
    lr_min: float = setting(0.0, "cosine floor", flag=False)
    lr_gamma: float = setting(0.97, "exp: lr x gamma per epoch", flag=False)
    grad_clip: float | None = setting(None, "max global gradient norm (default: no clipping)")
    label_smoothing: float = setting(0.0, "label smoothing of the cross-entropy loss")
    # execution
    amp: str = setting("none", "mixed precision (fp16 with a gradient scaler)", choices=AMP_MODES)
    channels_last: bool = setting(False, "channels-last memory format")
    cudnn_benchmark: bool = setting(True, "let cuDNN pick the fastest convolution algorithms (CUDA only)", flag=False)
    device: str = setting("auto", "auto (CUDA when present) | cpu | cuda | cuda:N")
    seed: int = setting(0, "random seed of the run", minimum=0, maximum=SEED_MAX)
    test_every: int = setting(1, "evaluate the test set every k epochs (always after the last); never used to select")
    eval_batch_size: int | None = setting(None, "global evaluation batch (default: batch_size)", flag=False,
                                             minimum=1)

    def validate(self) -> "Recipe":
        """Range checks that need no registry (the schedule name is checked where it is resolved)."""
        checks = [
            (self.epochs >= 1, f"epochs must be at least 1, got {self.epochs}"),
            (self.lr > 0, f"lr must be positive, got {self.lr}"),
            (self.amp in AMP_MODES, f"amp must be one of {', '.join(AMP_MODES)}, got {self.amp!r}"),
            (0 <= self.drop_path < 1, f"drop_path must be in [0, 1), got {self.drop_path}"),
            (self.auxiliary_weight >= 0, f"auxiliary_weight must be >= 0, got {self.auxiliary_weight}"),
            (0 <= self.label_smoothing < 1, f"label_smoothing must be in [0, 1), got {self.label_smoothing}"),
            (self.grad_clip is None or self.grad_clip > 0, f"grad_clip must be positive, got {self.grad_clip}"),
            (self.val_split >= 0, f"val_split must be >= 0, got {self.val_split}"),
            (self.test_every >= 1, f"test_every must be at least 1, got {self.test_every}"),
            (self.workers >= 0, f"workers must be >= 0, got {self.workers}"),
            (self.lr_reference_batch is None or self.lr_reference_batch >= 1,
             f"lr_reference_batch must be at least 1, got {self.lr_reference_batch}"),
        ]
        for ok, msg in checks:
            if not ok:
                raise RecipeError(msg)
        return self

    @property
    def effective_lr(self) -> float:
        """The learning rate after linear scaling with the global batch (Goyal et al. 2017)."""
        if self.lr_reference_batch:
            return self.lr * self.batch_size / self.lr_reference_batch
        return self.lr

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def differences(self, other: "Recipe") -> list[str]:
        """Settings that differ from `other`, except those free to change on resumption."""
        a, b = self.to_dict(), other.to_dict()
        return sorted(k for k in a if k not in RESUME_FREE and a[k] != b[k])


def recipe_dirs() -> list[Path]:
    """Where recipe names are looked up: $OPSCORE_CONFIGS, ./configs, then the source checkout's configs/."""
    dirs = []
    if os.environ.get("OPSCORE_CONFIGS"):
        dirs.append(Path(os.environ["OPSCORE_CONFIGS"]))
    dirs += [Path.cwd() / "configs", Path(__file__).resolve().parents[1] / "configs"]
    return [d for d in dict.fromkeys(dirs) if d.is_dir()]


def recipe_names() -> list[str]:
    """Names of the recipes found in `recipe_dirs()`."""
    names = {p.stem[len(RECIPE_PREFIX):] for d in recipe_dirs() for p in d.glob(f"{RECIPE_PREFIX}*.yaml")}
    return sorted(names)


def find_recipe(name_or_path: str) -> Path:
    """The YAML file of a recipe given by name (`cifar10-darts`) or path."""
    p = Path(name_or_path).expanduser()
    if p.suffix in (".yaml", ".yml") or os.sep in name_or_path:
        if not p.is_file():
            raise RecipeError(f"recipe file {name_or_path} does not exist")
        return p
    for d in recipe_dirs():
        f = d / f"{RECIPE_PREFIX}{name_or_path}.yaml"
        if f.is_file():
            return f
    known = ", ".join(recipe_names()) or "none found (set OPSCORE_CONFIGS to the configs/ folder)"
    raise RecipeError(f"unknown recipe {name_or_path!r}; choose one of: {known}, or pass a YAML file")


def read_yaml_mapping(path: Path) -> dict[str, Any]:
    """A YAML recipe file's mapping of settings, keys with dashes normalised to underscores."""
    try:
        return read_yaml_settings(path, "recipe file")
    except SettingsError as e:
        raise RecipeError(str(e)) from None


def make_recipe(values: Mapping[str, Any], overrides: Mapping[str, Any] | None = None,
                source: str = "recipe") -> Recipe:
    """Defaults, then `values` (from `source`), then the non-None `overrides`; every value is type-checked
    (runtime.settings) and unknown keys are errors."""
    try:
        merged = check_values(Recipe, values, source)
        merged.update(check_values(Recipe, {k: v for k, v in (overrides or {}).items() if v is not None},
                                   "command line"))
    except SettingsError as e:
        raise RecipeError(str(e)) from None
    return Recipe(**merged).validate()


def load_recipe(name_or_path: str, overrides: Mapping[str, Any] | None = None) -> Recipe:
    """The recipe `name_or_path` (see `find_recipe`) with `overrides` applied."""
    path = find_recipe(name_or_path)
    values = read_yaml_mapping(path)
    values.setdefault("name", path.stem[len(RECIPE_PREFIX):] if path.stem.startswith(RECIPE_PREFIX) else path.stem)
    return make_recipe(values, overrides, source=f"recipe file {path}")
