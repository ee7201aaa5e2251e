"""The `table` benchmark source: a CSV table of accuracies keyed by arch string (e.g. the shared NB201 CIFAR-10
table), or NAS-Bench-Macro's JSON, given as `--benchmark-table`."""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runtime.settings import setting

from .source import BENCHMARKS, BenchmarkError, MetricSettings, is_accuracy
from .nb_macro import MacroBenchmark


def _duplicates(names: list[str]) -> list[str]:
    """Names that occur more than once, in order of first repetition."""
    seen: set[str] = set()
    dup: list[str] = []
    for n in names:
        if n in seen and n not in dup:
            dup.append(n)
        seen.add(n)
    return dup


class CsvBenchmark:
    """A table with an `arch` column and accuracy columns (names ending in `acc`, e.g. `cifar100_test_acc`).

    Every accuracy column is returned by a lookup; other columns (index, params, ...) are ignored. A table
    without an accuracy column, a repeated column or a repeated arch is an error, never a silent choice.
    """

    spaces = None  # any space written as arch strings

    def __init__(self, path: str | Path) -> None:
        path = Path(path)
        self.path = path
        self.source = f"csv table {path}"
        try:
            with open(path, newline="", encoding="utf-8") as f:
                reader = csv.reader(f, skipinitialspace=True)
                header = [c.strip() for c in next(reader, [])]
                self.columns = self._check_header(header)
                at = {c: header.index(c) for c in ("arch", *self.columns)}
                self.rows: dict[str, dict[str, float]] = {}
                first_line: dict[str, int] = {}
                for line, row in enumerate(reader, start=2):
                    if not any(v.strip() for v in row):
                        continue
                    self._add_row(row, line, at, first_line)
        except OSError as e:
            raise BenchmarkError(f"cannot read benchmark table {path}: {e.strerror}; check the path") from None
        except (UnicodeDecodeError, csv.Error) as e:
            raise BenchmarkError(f"benchmark table {path} is not a CSV file ({e}); pass a CSV table with an arch "
                                  "column and accuracy columns") from None
        if not self.rows:
            raise BenchmarkError(f"benchmark table {path} has no rows; it needs one row per arch")

    @property
    def metrics(self) -> tuple[str, ...]:
        return tuple(self.columns)

    def _check_header(self, header: list[str]) -> list[str]:
        """The accuracy columns of `header`; a missing arch column, repeats or no accuracy are errors."""
        if "arch" not in header:
            raise BenchmarkError(f"benchmark table {self.path} has no 'arch' column (columns: {', '.join(header)}); "
                                 "name the architecture column arch")
        dup = _duplicates(header)
        if dup:
            raise BenchmarkError(f"benchmark table {self.path} has the column {dup[0]!r} more than once; "
                                 "keep one of them")
        columns = [c for c in header if c not in ("arch", "index") and is_accuracy(c)]
        if not columns:
            raise BenchmarkError(f"benchmark table {self.path} has no accuracy column (columns: "
                                 f"{', '.join(header)}); name one e.g. cifar10_test_acc")
        return columns

    def _add_row(self, row: list[str], line: int, at: dict[str, int], first_line: dict[str, int]) -> None:
        """Store one data row; short rows, non-numbers and a repeated arch are errors naming the line."""
        if len(row) <= max(at.values()):
            raise BenchmarkError(f"benchmark table {self.path} line {line} has {len(row)} fields, fewer than "
                                 "the header; complete the row or delete it")
        arch = row[at["arch"]].strip()
        if arch in first_line:
            raise BenchmarkError(f"benchmark table {self.path} lists arch {arch} twice (lines {first_line[arch]} "
                                 f"and {line}); keep one row per arch")
        values: dict[str, float] = {}
        for c in self.columns:
            try:
                values[c] = float(row[at[c]])
            except ValueError:
                raise BenchmarkError(f"benchmark table {self.path} line {line}: {c} is {row[at[c]].strip()!r}, not "
                                     "a number; fix the row or delete it") from None
        self.rows[arch] = values
        first_line[arch] = line

    def lookup(self, arch: str) -> dict[str, float]:
        """Accuracy columns for `arch`; an unknown arch is an error, never a silent default."""
        try:
            return dict(self.rows[arch])
        except KeyError:
            raise BenchmarkError(f"arch {arch} is not in benchmark table {self.path}") from None

    def __len__(self) -> int:
        return len(self.rows)


def _is_json(path: Path) -> bool:
    """A `.json` name, or a file whose first non-blank character opens a JSON object."""
    if path.suffix.lower() == ".json":
        return True
    try:
        with open(path, "rb") as f:
            return f.read(64).lstrip()[:1] == b"{"
    except OSError:
        return False


def open_table(path: str | Path) -> "CsvBenchmark | MacroBenchmark":
    """A benchmark file keyed by architecture: NAS-Bench-Macro's JSON, or a CSV table."""
    p = Path(path)
    if p.is_dir():
        raise BenchmarkError(f"--benchmark-table {p} is a folder; pass a CSV table or nas-bench-macro_cifar10.json")
    return MacroBenchmark(p) if _is_json(p) else CsvBenchmark(p)



@dataclass
class TableSettings(MetricSettings):
    """The table source's file."""

    benchmark_table: str | None = setting(None, "CSV table (columns arch + accuracy columns, e.g. cifar10_test_acc, "
                                                "cifar100_test_acc), or NAS-Bench-Macro's nas-bench-macro_cifar10.json",
                                          path=True)


@BENCHMARKS.register("table")
class TableSource:
    """A CSV table keyed by arch string, or NAS-Bench-Macro's JSON (`--benchmark-table`)."""

    Settings = TableSettings

    @staticmethod
    def open(settings: Any, space: str | None) -> "CsvBenchmark | MacroBenchmark | None":
        return open_table(settings.benchmark_table) if settings.benchmark_table else None
