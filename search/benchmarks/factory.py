"""One factory for every benchmark source: settings (and the search space) -> the benchmarks to query."""
from __future__ import annotations

from pathlib import Path

from .base import Benchmark, BenchmarkError
from .lookups import BenchmarkSet, check_space
from .nats import NatsBenchmark
from .nb301 import NB301Benchmark
from .nb_macro import MacroBenchmark
from .settings import ALL, BenchmarkSettings
from .table import CsvBenchmark


def _is_json(path: Path) -> bool:
    """A `.json` name, or a file whose first non-blank character opens a JSON object."""
    if path.suffix.lower() == ".json":
        return True
    try:
        with open(path, "rb") as f:
            return f.read(64).lstrip()[:1] == b"{"
    except OSError:
        return False


def open_table(path: str | Path) -> CsvBenchmark | MacroBenchmark:
    """A benchmark file keyed by architecture: NAS-Bench-Macro's JSON, or a CSV table."""
    p = Path(path)
    if p.is_dir():
        raise BenchmarkError(f"--benchmark-table {p} is a folder; pass a CSV table or nas-bench-macro_cifar10.json")
    return MacroBenchmark(p) if _is_json(p) else CsvBenchmark(p)


def parse_metrics(text: str) -> tuple[str, ...] | None:
    """The metrics of --benchmark-metric (None: every one available)."""
    names = tuple(m.strip() for m in str(text).split(",") if m.strip())
    if not names:
        raise BenchmarkError("--benchmark-metric needs a comma list of metric names, or 'all'")
    return None if names == (ALL,) else names


def open_benchmarks(settings: BenchmarkSettings, space: str | None = None) -> BenchmarkSet | None:
    """Every configured benchmark, checked against `space` and the metrics asked for (None when none is set).

    Opening reads or probes each source, so a bad path or package fails here, before any search work."""
    found: list[Benchmark] = []
    if settings.benchmark_table:
        found.append(open_table(settings.benchmark_table))
    if settings.nats_bench:
        check_space(NatsBenchmark.spaces, "NATS-Bench (--nats-bench)", space)
        found.append(NatsBenchmark(settings.nats_bench))
    if settings.nb301_models:
        check_space(NB301Benchmark.spaces, "NAS-Bench-301 (--nb301-models)", space)
        found.append(NB301Benchmark(settings.nb301_models, noise=settings.nb301_noise,
                                    python=settings.nb301_python))
    elif settings.nb301_python:
        raise BenchmarkError("--nb301-python needs --nb301-models DIR (the surrogate model folder)")
    if not found:
        return None
    return BenchmarkSet(found, parse_metrics(settings.benchmark_metric), space)

