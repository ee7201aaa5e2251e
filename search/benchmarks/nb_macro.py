"""NAS-Bench-Macro (Su et al. 2021): the published `nas-bench-macro_cifar10.json`.

The file is a dict keyed by the 8-digit architecture, each value holding `test_acc` (one per seed, 3
seeds), `mean_acc`, `std`, `params` and `flops`. Architectures that differ only in where stride-1
identity layers sit are one network; the file holds each under its canonical key, so the lookup uses
`NBMacroGenotype.canonical()`.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from supernet.spaces.space import GenotypeError
from supernet.spaces.nb_macro import parse_nb_macro

from .source import BenchmarkError

METRIC = "cifar10_test_acc"  # mean over the benchmark's seeds


class MacroBenchmark:
    """CIFAR-10 test accuracy of an NB-Macro architecture, mean over seeds (`mean_acc`)."""

    spaces = ("nb-macro",)
    metrics = (METRIC,)

    def __init__(self, path: str | Path) -> None:
        path = Path(path)
        self.path = path
        self.source = f"nas-bench-macro json {path} (mean_acc over seeds)"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except OSError as e:
            raise BenchmarkError(f"cannot read NAS-Bench-Macro file {path}: {e.strerror}") from None
        except (ValueError, UnicodeDecodeError) as e:
            raise BenchmarkError(f"NAS-Bench-Macro file {path} is not JSON: {str(e).splitlines()[0]}") from None
        if not isinstance(data, dict) or not data:
            raise BenchmarkError(f"NAS-Bench-Macro file {path} must hold a non-empty mapping from 8-digit "
                                 "architectures to results (nas-bench-macro_cifar10.json)")
        self.entries: dict[str, Any] = data

    def _accuracy(self, key: str, entry: Any) -> float:
        """`mean_acc` of an entry (the mean of `test_acc` when it lacks one)."""
        if isinstance(entry, dict) and isinstance(entry.get("mean_acc"), (int, float)):
            return float(entry["mean_acc"])
        accs = entry.get("test_acc") if isinstance(entry, dict) else None
        if isinstance(accs, list) and accs and all(isinstance(a, (int, float)) for a in accs):
            return math.fsum(accs) / len(accs)
        raise BenchmarkError(f"NAS-Bench-Macro file {self.path}: entry {key} has neither mean_acc nor test_acc")

    def lookup(self, arch: str) -> dict[str, float]:
        """The accuracy stored under the canonical key of `arch`."""
        try:
            key = str(parse_nb_macro(arch).canonical())
        except GenotypeError as e:
            raise BenchmarkError(f"NAS-Bench-Macro holds 8-digit architectures: {e}") from None
        if key not in self.entries:
            raise BenchmarkError(f"arch {arch} (canonical {key}) is not in NAS-Bench-Macro file {self.path}")
        return {METRIC: self._accuracy(key, self.entries[key])}

    def __len__(self) -> int:
        return len(self.entries)
