"""Search configuration: defaults, YAML files from configs/, flag overrides, validation."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from runtime.seeds import SEED_MAX
from runtime.settings import SettingsError, setting
from train_final.data import DataSpec, native_image_size
from train_final.image_check import BAD_IMAGE_POLICIES

from .benchmarks.settings import BenchmarkSettings, benchmark_setting
from .validators.base import ValidatorSettings

BN_MODES = ("batch", "eval")  # proxies' BN statistics: running ('eval') or the minibatch's ('batch')
DEFAULT_PROXY = "nwot"        # the proxy of zcpt and naswot when --proxy is not given
ZCPT_BN_MODE = "eval"         # zcpt's BN mode when --bn-mode is not given (measured better, see README)


class ConfigError(SettingsError):
    """A configuration value or file that cannot work; the message names the fix."""


@dataclass
class SearchConfig(ValidatorSettings):
    """Every setting of a search; YAML keys and `--flags` use these names (dashes for underscores).
    The benchmark settings (those of BenchmarkSettings) only choose the lookups after the search."""

    strategy: str = setting("zcpt", "search strategy (opscore list)")
    space: str = setting("nb201", "search space (opscore list)")
    scorer: str = setting("zc-pt", "operation scorer: zc-pt, disc-zc, darts-alpha, darts-pt, disc-acc, ...")
    proxy: str | None = setting(None, "zero-cost proxy: nwot, synflow, ... (default: nwot for zcpt and naswot; "
                                      "random and evolution without a proxy use --benchmark-table as fitness)")
    order: str = setting("random", "edge order: fixed, random, ...")
    iterations: int = setting(10, "proposal iterations N", short="-N")
    validation_batches: int = setting(100, "validation minibatches V", short="-V")
    batch_size: int = setting(64, "minibatch size", minimum=2)
    seed: int = setting(0, "random seed of the run", minimum=0, maximum=SEED_MAX)
    bn_mode: str | None = setting(None, "BN statistics while scoring: 'eval' running statistics or 'batch' statistics "
                                        "(default: eval for zcpt, measured better; batch for naswot/random/evolution, "
                                        "as NASWOT scores networks)", choices=BN_MODES)
    mixing: str = setting("uniform", "mixing rule of the supernet: uniform, uniform-fixed, softmax, softmax-fixed, sum")
    augment: bool = setting(False, "augment scoring minibatches (crop + flip)")
    dataset: str = setting("cifar10", "cifar10 | cifar100 | imagefolder | imagenet | synthetic")
    data_root: str | None = setting(None, "data folder (for imagefolder: class subfolders, or train/ and test/)",
                                    path=True)
    image_size: int | None = setting(None, "side of the scoring images; folders and CIFAR are resized to it (default: "
                                           "the data set's native size, 224 for imagenet)", minimum=8)
    download: bool = setting(False, "allow downloading CIFAR")
    bad_images: str = setting("fail", "an image folder's unreadable images (each is decoded once before the run): "
                                      "fail naming the first, skip each with a warning, or off (no check)",
                              choices=BAD_IMAGE_POLICIES)
    benchmark_table: str | None = benchmark_setting("benchmark_table")
    nats_bench: str | None = benchmark_setting("nats_bench")
    nb301_models: str | None = benchmark_setting("nb301_models")
    nb301_python: str | None = benchmark_setting("nb301_python")
    nb301_noise: bool = benchmark_setting("nb301_noise")
    benchmark_metric: str = benchmark_setting("benchmark_metric")
    device: str = setting("auto", "auto (CUDA when present) | cpu | cuda | cuda:N")
    channels_last: bool = setting(True, "NHWC memory layout for supernet, networks and batches (faster convolutions "
                                        "on CPU and GPU)")
    batched: bool | None = setting(None, "score all ops of an edge in one grouped forward (default: on with CUDA, except mobilenet)")
    channels: int | None = setting(None, "supernet width (default: the space's)", minimum=1)
    cells: int | None = setting(None, "supernet depth, cells per stage for nb201 (default: the space's)",
                                   minimum=1)
    val_channels: int | None = setting(None, "validation network width (default: the space's)", minimum=1)
    val_cells: int | None = setting(None, "validation network depth (default: the space's)", minimum=1)
    include_none: bool | None = setting(None, "darts: make 'none' a candidate op (default: the space's, excluded as "
                                              "in DARTS-PT)")
    supernet: str | None = setting(None, "trained supernet checkpoint RUN_DIR/supernet.pt (opscore train-supernet; "
                                         "training-based scorers)", path=True)
    tune_epochs: float = setting(5.0, "darts-pt/disc-acc: supernet fine-tuning epochs after each decision (DARTS-PT: 5)")
    tune_lr: float = setting(0.0025, "darts-pt/disc-acc: fine-tuning learning rate (DARTS-PT: lr/10, constant)")
    fix_alpha: bool = setting(False, "darts-pt/disc-acc: keep the alphas fixed while fine-tuning (DARTS-PT fix-alpha)")
    disc_tune_epochs: float = setting(0.0, "disc-acc: fine-tune each discretized supernet for this many epochs "
                                           "before scoring")
    accuracy_batches: int | None = setting(None, "darts-pt/disc-acc: validation minibatches for accuracy (default: "
                                                 "the whole held-out half)")
    samples: int = setting(100, "naswot/random/evolution: architectures evaluated (NASWOT N, random K, evolution's "
                                "total including the initial population)")
    population: int = setting(20, "evolution: population size P (regularised evolution, Real et al. 2019)")
    sample_size: int = setting(5, "evolution: tournament sample size S (the best of S random members is the parent)")
    prune_number: int | None = setting(None, "tenas: ops pruned per edge per round (default: TE-NAS's launcher, 1 on "
                                             "nb201 and 3 on the darts spaces)", minimum=1)
    tenas_repeat: int = setting(1, "tenas: re-initialisations per round; each removal is ranked by its kappa and R "
                                   "relative to the unpruned supernet's, averaged (the TE-NAS code: 3)", minimum=1)
    tenas_lr_length: float = setting(1e-3, "tenas: length of the input segment whose linear regions are counted "
                                           "(1e-3 leaves R mid-range on TE-NAS's small pruning supernets; about 1e-4 "
                                           "for the C=16 supernets)")
    tenas_regions: str = setting("segment", "tenas: how linear regions R are counted: segment (points on a short input "
                                            "segment through the pruned supernet) or patches (TE-NAS's count: distinct "
                                            "activation patterns of 3 x 1,000 random one-channel 3x3 crops through a "
                                            "thin copy, C=1, no stem)", choices=("segment", "patches"))
    tenas_ranks: str = setting("average", "tenas: how removals are ranked: average (ranks of kappa and R, ties "
                                          "averaged) or te-nas (the TE-NAS code: relative changes rounded to 3 "
                                          "decimals, dense ranks)", choices=("average", "te-nas"))
    score_seed: int = setting(0, "naswot/random/evolution with a proxy: seed of the scoring minibatch and of every "
                                 "network's initial weights, shared by runs of any --seed so one score cache serves them",
                                 minimum=0, maximum=SEED_MAX)
    score_cache: str | None = setting(None, "naswot/random/evolution with a proxy: score cache file (JSON lines) reused "
                                            "by every run with the same scoring key", path=True)
    proposals_from: str | None = setting(None, "zcpt: take the finished proposals of this run directory (same "
                                               "proposal settings) and only validate, e.g. to compare validators",
                                         path=True)
    out: str | None = setting(None, "run directory (default: runs/search-<time>)")

    def validate(self) -> "SearchConfig":
        """Range checks that need no registry (names are checked where they are resolved)."""
        if self.iterations < 1:
            raise ConfigError(f"N (iterations) must be at least 1, got {self.iterations}")
        if self.validation_batches < 1:
            raise ConfigError(f"V (validation batches) must be at least 1, got {self.validation_batches}")
        if self.batch_size < 2:
            raise ConfigError(f"batch size must be at least 2, got {self.batch_size}")
        if self.bn_mode not in (None, "batch", "eval"):
            raise ConfigError(f"bn_mode must be 'batch' or 'eval', got {self.bn_mode!r}")
        if self.tune_epochs < 0 or self.disc_tune_epochs < 0:
            raise ConfigError("--tune-epochs and --disc-tune-epochs must be 0 or more")
        if self.samples < 1:
            raise ConfigError(f"--samples must be at least 1 architecture, got {self.samples}")
        if self.population < 1 or self.sample_size < 1:
            raise ConfigError(f"--population and --sample-size must be at least 1, got {self.population} and "
                              f"{self.sample_size}")
        if self.tenas_repeat < 1:
            raise ConfigError(f"--tenas-repeat must be at least 1, got {self.tenas_repeat}")
        if not 0.0 < self.tenas_lr_length <= 1.0:
            raise ConfigError(f"--tenas-lr-length must be in (0, 1], got {self.tenas_lr_length}")
        if self.accuracy_batches is not None and self.accuracy_batches < 1:
            raise ConfigError(f"--accuracy-batches must be at least 1, got {self.accuracy_batches}")
        self.validate_validator()
        return self

    def data_spec(self) -> DataSpec:
        """The scoring data: name, root, download and the image side (the data set's own when unset)."""
        return DataSpec(self.dataset, self.data_root, self.download,
                        image_size=self.image_size or native_image_size(self.dataset), bad_images=self.bad_images)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def benchmark_settings(self) -> BenchmarkSettings:
        """The benchmark lookups this search asks for."""
        return BenchmarkSettings(**{f.name: getattr(self, f.name) for f in dataclasses.fields(BenchmarkSettings)})

    def space_options(self) -> dict[str, Any]:
        """The space options that are set, for `get_space(space, **options)`."""
        return {} if self.include_none is None else {"include_none": self.include_none}


