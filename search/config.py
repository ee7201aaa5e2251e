"""Search configuration: defaults, YAML files from configs/, flag overrides, validation."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Mapping

import yaml



class ConfigError(ValueError):
    """A configuration value or file that cannot work; the message names the fix."""


@dataclass
class SearchConfig:
    """Every setting of a search; YAML keys and `--flags` use these names (dashes for underscores)."""

    strategy: str = "zcpt"          # search strategy (search.strategies)
    space: str = "nb201"
    scorer: str = "zc-pt"
    proxy: str = "nwot"
    order: str = "random"
    iterations: int = 10            # N proposal iterations
    validation_batches: int = 100   # V minibatches in the validation stage
    batch_size: int = 64
    seed: int = 0
    bn_mode: str = "eval"           # proxies: 'eval' running statistics (measured better) or 'batch' statistics
    mixing: str = "uniform"         # mixing rule of the supernet's mixed ops
    augment: bool = False           # augment the scoring minibatches (crop + flip)
    dataset: str = "cifar10"
    data_root: str | None = None
    download: bool = False
    benchmark_table: str | None = None
    nats_bench: str | None = None
    device: str = "auto"
    channels_last: bool = True      # NHWC memory layout for supernet, networks and batches (faster convs)
    batched: bool | None = None     # score all ops of an edge in one grouped forward (unset: on for CUDA)
    channels: int | None = None     # supernet width (space default when unset)
    cells: int | None = None        # supernet depth (space default when unset)
    val_channels: int | None = None  # stand-alone validation network width
    val_cells: int | None = None
    include_none: bool | None = None  # darts: 'none' among the candidates (space default, off, when unset)
    supernet: str | None = None     # checkpoint of a trained supernet (training-based scorers)
    tune_epochs: float = 5.0        # darts-pt/disc-acc: supernet fine-tuning epochs after each decision (DARTS-PT: 5)
    tune_lr: float = 0.0025         # darts-pt/disc-acc: fine-tuning learning rate (DARTS-PT: lr/10, constant)
    fix_alpha: bool = False         # darts-pt/disc-acc: alphas stay fixed while fine-tuning (DARTS-PT "fix alpha")
    disc_tune_epochs: float = 0.0   # disc-acc: fine-tuning epochs of each discretized supernet before scoring
    accuracy_batches: int | None = None  # darts-pt/disc-acc: validation minibatches (None: the whole held-out half)
    out: str | None = None

    def validate(self) -> "SearchConfig":
        """Range checks that need no registry (names are checked where they are resolved)."""
        if self.iterations < 1:
            raise ConfigError(f"N (iterations) must be at least 1, got {self.iterations}")
        if self.validation_batches < 1:
            raise ConfigError(f"V (validation batches) must be at least 1, got {self.validation_batches}")
        if self.batch_size < 2:
            raise ConfigError(f"batch size must be at least 2, got {self.batch_size}")
        if self.bn_mode not in ("batch", "eval"):
            raise ConfigError(f"bn_mode must be 'batch' or 'eval', got {self.bn_mode!r}")
        if self.tune_epochs < 0 or self.disc_tune_epochs < 0:
            raise ConfigError("--tune-epochs and --disc-tune-epochs must be 0 or more")
        if self.accuracy_batches is not None and self.accuracy_batches < 1:
            raise ConfigError(f"--accuracy-batches must be at least 1, got {self.accuracy_batches}")
        return self

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def space_options(self) -> dict[str, Any]:
        """The space options that are set, for `get_space(space, **options)`."""
        return {} if self.include_none is None else {"include_none": self.include_none}


def load_config(path: str | None, overrides: Mapping[str, Any], cls: type = SearchConfig) -> Any:
    """Defaults, then the YAML file, then non-None overrides; unknown keys are errors."""
    values: dict[str, Any] = {}
    if path:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"config file {path} does not exist")
        try:
            data = yaml.safe_load(p.read_text()) or {}
        except yaml.YAMLError as e:
            raise ConfigError(f"config file {path} is not valid YAML: {str(e).splitlines()[0]}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"config file {path} must hold a mapping of settings")
        values.update({str(k).replace("-", "_"): v for k, v in data.items()})
    values.update({k: v for k, v in overrides.items() if v is not None})
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(f"unknown setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    try:
        cfg = cls(**values)
    except TypeError as e:
        raise ConfigError(str(e)) from None
    return cfg.validate()
