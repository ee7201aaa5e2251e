"""One factory for every registered benchmark source: settings (and the search space) -> the benchmarks to query."""
from __future__ import annotations

from typing import Any

from .lookups import BenchmarkSet
from .source import ALL, BENCHMARKS, BenchmarkError
from .table import open_table  # noqa: F401  (re-exported)


def parse_metrics(text: str) -> tuple[str, ...] | None:
    """The metrics of --benchmark-metric (None: every one available)."""
    names = tuple(m.strip() for m in str(text).split(",") if m.strip())
    if not names:
        raise BenchmarkError("--benchmark-metric needs a comma list of metric names, or 'all'")
    return None if names == (ALL,) else names


def open_benchmarks(settings: Any, space: str | None = None) -> BenchmarkSet | None:
    """Every configured benchmark (each registered source that its settings configure), checked against `space`
    and the metrics asked for (None when none is set).

    Opening reads or probes each source, so a bad path or package fails here, before any search work."""
    found = [b for b in (BENCHMARKS.get(n).open(settings, space) for n in BENCHMARKS.names()) if b is not None]
    if not found:
        return None
    return BenchmarkSet(found, parse_metrics(settings.benchmark_metric), space)
