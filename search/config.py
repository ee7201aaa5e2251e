"""Search configuration: defaults, YAML files from configs/, flag overrides, validation."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from runtime.seeds import SEED_MAX
from runtime.settings import SettingsError, setting
from runtime.data import DataSpec, native_image_size
from runtime.image_check import BAD_IMAGE_POLICIES

from .benchmarks.settings import BenchmarkSettings

BN_MODES = ("batch", "eval")  # proxies' BN statistics: running ('eval') or the minibatch's ('batch')
DEFAULT_PROXY = "nwot"        # the proxy of zcpt and naswot when --proxy is not given
ZCPT_BN_MODE = "eval"         # zcpt's BN mode when --bn-mode is not given (measured better, see README)


class ConfigError(SettingsError):
    """A configuration value or file that cannot work; the message names the fix."""


@dataclass
class SearchConfig:
    """The core settings of a search: which plugins run (strategy, space, scorer, proxy, order, validator), the
    data, the seed, the device, the minibatch and network sizes, the output folder. YAML keys and `--flags` use
    these names (dashes for underscores). Every plugin's own options are declared by the plugin (its `Settings`)
    and held, resolved, in `options` (search.plugins builds a SearchConfig from flat settings)."""

    strategy: str = setting("zcpt", "search strategy (opscore list)")
    space: str = setting("nb201", "search space (opscore list)")
    scorer: str = setting("zc-pt", "operation scorer: zc-pt, disc-zc, darts-alpha, darts-pt, disc-acc, ...")
    proxy: str | None = setting(None, "zero-cost proxy: nwot, synflow, ... (default: nwot for zcpt and naswot; "
                                      "random and evolution without a proxy use --benchmark-table as fitness)")
    order: str = setting("random", "edge order: fixed, random, ...")
    validator: str = setting("proxy", "validation ranker: proxy (the proxy summed over V minibatches), tse, "
                                      "tse-e, tse-ema, fear, vote (opscore list)")
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
    device: str = setting("auto", "auto (CUDA when present) | cpu | cuda | cuda:N")
    channels_last: bool = setting(True, "NHWC memory layout for supernet, networks and batches (faster convolutions "
                                        "on CPU and GPU)")
    channels: int | None = setting(None, "supernet width (default: the space's)", minimum=1)
    cells: int | None = setting(None, "supernet depth, cells per stage for nb201 (default: the space's)",
                                   minimum=1)
    val_channels: int | None = setting(None, "validation network width (default: the space's)", minimum=1)
    val_cells: int | None = setting(None, "validation network depth (default: the space's)", minimum=1)
    out: str | None = setting(None, "run directory (default: runs/search-<time>)")
    options: dict = setting({}, "the options of the plugins in use, resolved (search.plugins)", flag=False)

    def validate(self) -> "SearchConfig":
        """Range checks of the core that need no registry (names are checked where they are resolved)."""
        if self.batch_size < 2:
            raise ConfigError(f"batch size must be at least 2, got {self.batch_size}")
        if self.bn_mode not in (None, "batch", "eval"):
            raise ConfigError(f"bn_mode must be 'batch' or 'eval', got {self.bn_mode!r}")
        return self

    def data_spec(self) -> DataSpec:
        """The scoring data: name, root, download and the image side (the data set's own when unset)."""
        return DataSpec(self.dataset, self.data_root, self.download,
                        image_size=self.image_size or native_image_size(self.dataset), bad_images=self.bad_images)

    def core(self) -> dict[str, Any]:
        """The core settings (without the plugins' options)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "options"}

    def to_dict(self) -> dict[str, Any]:
        """The settings flat, as config.yaml holds them: the core, then every option of the plugins in use."""
        return {**self.core(), **self.options}

    def __getattr__(self, name: str) -> Any:
        """A plugin option in use reads like a setting (`cfg.iterations` of a zcpt run); read-only."""
        if name != "options" and not name.startswith("__"):
            options = self.__dict__.get("options") or {}
            if name in options:
                return options[name]
        raise AttributeError(f"{type(self).__name__} has no setting {name!r} (nor does a plugin this run uses)")

    def options_of(self, registry: Any, name: str) -> dict[str, Any]:
        """The options of plugin `name` of `registry` in this run (for `registry.create(name, **them)`)."""
        return {k: self.options[k] for k in registry.options(name) if k in self.options}

    def option(self, name: str, default: Any = None) -> Any:
        """The value of plugin option `name` in this run (`default` when no plugin in use declares it)."""
        return self.options.get(name, default)

    def benchmark_settings(self) -> BenchmarkSettings:
        """The benchmark lookups this search asks for."""
        defaults = BenchmarkSettings()
        return BenchmarkSettings(**{f.name: self.options.get(f.name, getattr(defaults, f.name))
                                    for f in dataclasses.fields(BenchmarkSettings)})

    def space_options(self) -> dict[str, Any]:
        """The space options that are set, for `get_space(space, **options)`."""
        from supernet.spaces import SPACES
        return {k: self.options[k] for k in SPACES.options(self.space) if self.options.get(k) is not None}
