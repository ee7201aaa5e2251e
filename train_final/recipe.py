"""Training recipes: every setting of a retraining run, read from `configs/train-<name>.yaml` plus overrides."""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Mapping

import yaml

AMP_MODES = ("none", "bf16", "fp16")
RECIPE_PREFIX = "train-"
# settings that may change between a run and its resumption (they do not change the numbers)
RESUME_FREE = frozenset({"device", "workers", "data_root", "download", "cudnn_benchmark"})


class RecipeError(ValueError):
    """A recipe name, file or value that cannot work; the message names the fix."""


@dataclass
class Recipe:
    """Every setting of a retraining run; YAML keys and `--flags` use these names (dashes for underscores)."""

    name: str = "custom"
    space: str | None = None            # filled from the genotype source
    genotype: str | None = None         # the genotype in its space's text format
    # network
    channels: int | None = None         # initial channels C (space default when unset)
    cells: int | None = None            # cells (DARTS: total; NB201: per stage); space default when unset
    auxiliary_weight: float = 0.0       # > 0 builds the auxiliary head and adds weight * its loss
    drop_path: float = 0.0              # final drop-path probability, ramped linearly from 0 over the epochs
    # data
    dataset: str = "cifar10"
    data_root: str | None = None
    download: bool = False
    image_size: int = 32
    augment: bool = True                # CIFAR: crop 32 pad 4 + flip; ImageNet: RandomResizedCrop + flip + jitter
    cutout: int = 0                     # side of the Cutout square (0: off)
    val_split: float = 0.0              # held out from train for model selection: fraction (< 1) or count
    synthetic_size: int = 512           # images of the synthetic training set
    workers: int = 2                    # data-loader processes per training process
    # optimisation
    epochs: int = 1
    batch_size: int = 96                # global batch: split evenly over the processes
    lr: float = 0.025
    lr_reference_batch: int | None = None  # linear scaling: lr * batch_size / this (None: no scaling)
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 3e-4
    schedule: str = "cosine"            # cosine | exp | constant, stepped once per epoch
    lr_min: float = 0.0                 # cosine floor
    lr_gamma: float = 0.97              # exp: lr x gamma per epoch
    grad_clip: float | None = None      # max global gradient norm
    label_smoothing: float = 0.0
    # execution
    amp: str = "none"                   # none | bf16 | fp16 (fp16 with a gradient scaler)
    channels_last: bool = False
    cudnn_benchmark: bool = True        # let cuDNN pick the fastest convolution algorithms (CUDA only)
    device: str = "auto"                # auto (CUDA when present) | cpu | cuda | cuda:N
    seed: int = 0
    test_every: int = 1                 # test-set evaluation every k epochs (always after the last); never used to select
    eval_batch_size: int | None = None  # global evaluation batch (default: batch_size)

    def validate(self) -> "Recipe":
        """Range checks that need no registry (the schedule name is checked where it is resolved)."""
        checks = [
            (self.epochs >= 1, f"epochs must be at least 1, got {self.epochs}"),
            (self.batch_size >= 1, f"batch size must be at least 1, got {self.batch_size}"),
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
            (self.eval_batch_size is None or self.eval_batch_size >= 1,
             f"eval_batch_size must be at least 1, got {self.eval_batch_size}"),
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
    """A YAML file holding a mapping of settings, keys with dashes normalised to underscores."""
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise RecipeError(f"recipe file {path} is not valid YAML: {str(e).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise RecipeError(f"recipe file {path} must hold a mapping of settings")
    return {str(k).replace("-", "_"): v for k, v in data.items()}


def make_recipe(values: Mapping[str, Any], overrides: Mapping[str, Any] | None = None) -> Recipe:
    """Defaults, then `values`, then the non-None `overrides`; unknown keys are errors."""
    merged = dict(values)
    merged.update({k: v for k, v in (overrides or {}).items() if v is not None})
    known = {f.name for f in fields(Recipe)}
    unknown = sorted(set(merged) - known)
    if unknown:
        raise RecipeError(f"unknown setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    try:
        recipe = Recipe(**merged)
    except TypeError as e:
        raise RecipeError(str(e)) from None
    _check_types(recipe)
    return recipe.validate()


def load_recipe(name_or_path: str, overrides: Mapping[str, Any] | None = None) -> Recipe:
    """The recipe `name_or_path` (see `find_recipe`) with `overrides` applied."""
    path = find_recipe(name_or_path)
    values = read_yaml_mapping(path)
    values.setdefault("name", path.stem[len(RECIPE_PREFIX):] if path.stem.startswith(RECIPE_PREFIX) else path.stem)
    return make_recipe(values, overrides)


def _check_types(recipe: Recipe) -> None:
    """YAML and `--set` values of the wrong kind (e.g. epochs: ten) fail here, naming the key."""
    for f in fields(Recipe):
        v = getattr(recipe, f.name)
        kind = str(f.type)
        if v is None:
            if "None" not in kind:
                raise RecipeError(f"setting {f.name} must not be empty")
            continue
        if kind.startswith("int") and (isinstance(v, bool) or not isinstance(v, int)):
            raise RecipeError(f"setting {f.name} must be a whole number, got {v!r}")
        if kind.startswith("float"):
            setattr(recipe, f.name, _number(f.name, v))
        if kind == "bool" and not isinstance(v, bool):
            raise RecipeError(f"setting {f.name} must be true or false, got {v!r}")
        if kind.startswith("str") and not isinstance(v, str):
            raise RecipeError(f"setting {f.name} must be text, got {v!r}")


def _number(key: str, v: Any) -> float:
    """A float setting; YAML 1.1 reads `3e-4` (no dot) as text, so numeric text is accepted too."""
    if isinstance(v, bool):
        raise RecipeError(f"setting {key} must be a number, got {v!r}")
    try:
        return float(v)
    except (TypeError, ValueError):
        raise RecipeError(f"setting {key} must be a number, got {v!r}") from None
