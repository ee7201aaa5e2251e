"""Benchmark lookups: NB201 accuracy by arch string from a CSV table or from the NATS-Bench API.

Data is loaded once, outside the search-space objects (as NASLib does).
"""
from __future__ import annotations

import csv
import logging
from pathlib import Path
from typing import Protocol

log = logging.getLogger(__name__)


class BenchmarkError(ValueError):
    """A benchmark table or archive that cannot be read, or an arch it does not hold."""


class Benchmark(Protocol):
    """What a search needs of a benchmark: accuracies of an architecture and where they come from."""

    source: str

    def lookup(self, arch: str) -> dict[str, float]:
        """Accuracy figures of `arch` by name (e.g. cifar10_test_acc)."""


class CsvBenchmark:
    """A table with an `arch` column and numeric accuracy columns (e.g. `cifar10_test_acc`)."""

    source = "csv"

    def __init__(self, path: str | Path) -> None:
        path = Path(path)
        try:
            with open(path, newline="", encoding="utf-8") as f:
                reader = csv.DictReader(f, skipinitialspace=True)
                fields = [c.strip() for c in (reader.fieldnames or [])]
                if "arch" not in fields:
                    raise BenchmarkError(f"benchmark table {path} has no 'arch' column (columns: {fields})")
                self.columns = [c for c in fields if c not in ("arch", "index")]
                self.rows: dict[str, dict[str, float]] = {}
                for row in reader:
                    row = {k.strip(): (v or "").strip() for k, v in row.items() if k is not None}
                    try:
                        self.rows[row["arch"]] = {c: float(row[c]) for c in self.columns}
                    except ValueError:
                        raise BenchmarkError(f"benchmark table {path}: non-numeric value in row {row}") from None
        except OSError as e:
            raise BenchmarkError(f"cannot read benchmark table {path}: {e.strerror}") from None
        except (UnicodeDecodeError, csv.Error) as e:
            raise BenchmarkError(f"benchmark table {path} is not a CSV file: {e}") from None
        if not self.rows:
            raise BenchmarkError(f"benchmark table {path} has no rows")
        self.path = path

    def lookup(self, arch: str) -> dict[str, float]:
        """Accuracy columns for `arch`; an unknown arch is an error, never a silent default."""
        try:
            return dict(self.rows[arch])
        except KeyError:
            raise BenchmarkError(f"arch {arch} is not in benchmark table {self.path}") from None

    def __len__(self) -> int:
        return len(self.rows)


class NatsBenchmark:
    """The official NATS-Bench topology API (package `nats_bench`, files supplied by the user).

    Queries the 200-epoch schedule (hp='200') averaged over the benchmark's seeds (is_random=False),
    never one random seed or the 12-epoch default.
    """

    source = "nats_bench (tss, hp=200, mean over seeds)"

    def __init__(self, path: str | Path, dataset: str = "cifar10") -> None:
        try:
            from nats_bench import create  # optional extra 'bench'
        except ImportError:
            raise BenchmarkError("nats_bench is not installed: pip install 'opscore[bench]'") from None
        if not Path(path).exists():
            raise BenchmarkError(f"NATS-Bench archive {path} does not exist")
        self.api = create(str(path), "tss", fast_mode=True, verbose=False)
        self.dataset = dataset

    def lookup(self, arch: str) -> dict[str, float]:
        idx = self.api.query_index_by_arch(arch)
        if idx < 0:
            raise BenchmarkError(f"arch {arch} is not in NATS-Bench")
        info = self.api.get_more_info(idx, self.dataset, hp="200", is_random=False)
        return {f"{self.dataset}_test_acc": float(info["test-accuracy"])}


def open_benchmark(table: str | None = None, nats: str | None = None) -> Benchmark | None:
    """The configured benchmark (CSV table preferred), or None when neither is set."""
    if table:
        return CsvBenchmark(table)
    if nats:
        return NatsBenchmark(nats)
    return None
