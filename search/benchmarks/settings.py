"""The benchmark settings shared by `opscore search` and `opscore lookup` (flags use these names with dashes).

They choose what is looked up after a search, never what the search does, so a run folder resumes
whatever they are (`FREE`). SearchConfig declares the same fields with `benchmark_setting`, so
defaults and help are written once.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from runtime.settings import setting

ALL = "all"


_SPECS: dict[str, tuple[object, str]] = {
    "benchmark_table": (None, "CSV table (columns arch + accuracy columns, e.g. cifar10_test_acc, cifar100_test_acc), "
                              "or NAS-Bench-Macro's nas-bench-macro_cifar10.json"),
    "nats_bench": (None, "NATS-Bench topology folder NATS-tss-v1_0-3ffb9-simple (nb201; needs opscore[bench]); "
                         "200-epoch results, mean over seeds"),
    "nb301_models": (None, "NAS-Bench-301 surrogate model folder, e.g. nb_models_1.0/xgb_v1.0 (darts spaces; needs "
                           "nasbench301)"),
    "nb301_python": (None, "python of a separate environment that has nasbench301 (default: import it here)"),
    "nb301_noise": (False, "NAS-Bench-301 with_noise: a noisy sample instead of the ensemble mean"),
    "benchmark_metric": (ALL, "comma list of metrics to record, e.g. cifar10_test_acc,cifar100_test_acc (default: "
                              "every one available)"),
}


_PATHS = ("benchmark_table", "nats_bench", "nb301_models")  # files and folders (nb301_python may be a command)


def benchmark_setting(name: str) -> Any:
    """The settings field `name` of BenchmarkSettings, for a settings class that holds it too (SearchConfig)."""
    default, help_text = _SPECS[name]
    return setting(default, help_text, path=name in _PATHS)


@dataclass
class BenchmarkSettings:
    """Where the looked-up accuracies come from and which of them result.json records."""

    benchmark_table: str | None = benchmark_setting("benchmark_table")
    nats_bench: str | None = benchmark_setting("nats_bench")
    nb301_models: str | None = benchmark_setting("nb301_models")
    nb301_python: str | None = benchmark_setting("nb301_python")
    nb301_noise: bool = benchmark_setting("nb301_noise")
    benchmark_metric: str = benchmark_setting("benchmark_metric")

    def any_source(self) -> bool:
        """Whether a benchmark is configured."""
        return bool(self.benchmark_table or self.nats_bench or self.nb301_models)


FREE: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(BenchmarkSettings))
