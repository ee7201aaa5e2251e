"""What every benchmark source shares: the error type, the lookup protocol and the metric names.

Metric names are `<dataset>_<split>_acc`: `cifar10_test_acc`, `cifar10_valid_acc`, `cifar100_test_acc`,
`cifar100_valid_acc`, `imagenet16-120_test_acc`, `imagenet16-120_valid_acc` (NATS-Bench); a CSV table's
accuracy columns keep their own names.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from runtime.settings import setting
from supernet.registry import Registry

ALL = "all"

DATASETS = ("cifar10", "cifar100", "imagenet16-120")
SPLITS = ("valid", "test")


class BenchmarkError(ValueError):
    """A benchmark table or archive that cannot be read, or an arch it does not hold (one line naming the fix)."""


def metric_name(dataset: str, split: str) -> str:
    """The result.json name of an accuracy, e.g. `cifar100_valid_acc`."""
    return f"{dataset.lower()}_{split}_acc"


def is_accuracy(column: str) -> bool:
    """Whether a table column holds an accuracy (its name ends in `acc` or `accuracy`)."""
    name = column.lower()
    return name.endswith("acc") or name.endswith("accuracy")


class Benchmark(Protocol):
    """A source of benchmark accuracies: what it is, which spaces and metrics it covers, and the lookup."""

    source: str  # said in result.json, e.g. "csv table t.csv"
    spaces: tuple[str, ...] | None  # search spaces whose genotypes it holds (None: any arch string)
    metrics: tuple[str, ...]  # the metric names `lookup` returns

    def lookup(self, arch: str) -> dict[str, float]:
        """Every metric of `arch` (the space's text format); BenchmarkError when it is not held."""


@dataclass
class MetricSettings:
    """Which of the looked-up accuracies result.json records: the setting every source's settings share."""

    benchmark_metric: str = setting(ALL, "comma list of metrics to record, e.g. cifar10_test_acc,cifar100_test_acc "
                                         "(default: every one available)")


class BenchmarkSource(Protocol):
    """A registered benchmark source: its `Settings` (the flags that point at its files) and how it opens."""

    Settings: type

    @staticmethod
    def open(settings: Any, space: str | None) -> Benchmark | None:
        """The benchmark these settings configure (None when they configure none), checked against `space`."""


BENCHMARKS: Registry[BenchmarkSource] = Registry("benchmark source")
