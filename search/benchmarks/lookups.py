"""Looking an architecture up in every configured benchmark without ever losing the result it belongs to.

A failed lookup (an arch missing from a table, a broken archive, a crashed surrogate) is recorded in
result.json under `benchmark_errors` with its reason and logged as a warning; it never raises, so the
caller has written its result first and keeps it. The CLI turns recorded errors into exit status 3.
"""
from __future__ import annotations

import logging
from typing import Any, Iterable, Mapping, Sequence

from .source import Benchmark, BenchmarkError

log = logging.getLogger(__name__)

RESULT_KEYS = ("benchmark", "benchmark_source", "benchmark_sources", "benchmark_errors")


def check_space(spaces: Sequence[str] | None, what: str, space: str | None) -> None:
    """A source that holds other spaces' architectures is refused before it is opened."""
    if space is not None and spaces is not None and space not in spaces:
        raise BenchmarkError(f"{what} holds {', '.join(spaces)} architectures, not {space}; drop it or search "
                             "that space")


class BenchmarkSet:
    """The benchmarks of a run and the metrics to record (None: every one they have)."""

    def __init__(self, benchmarks: Sequence[Benchmark], metrics: Sequence[str] | None = None,
                 space: str | None = None) -> None:
        self.benchmarks = list(benchmarks)
        self.metrics = tuple(metrics) if metrics is not None else None
        for b in self.benchmarks:
            check_space(b.spaces, b.source, space)
        offered = [m for b in self.benchmarks for m in b.metrics]
        unknown = [m for m in self.metrics or () if m not in offered]
        if unknown:
            raise BenchmarkError(f"--benchmark-metric {unknown[0]} is not offered by the benchmarks given "
                                 f"(they offer: {', '.join(dict.fromkeys(offered))})")

    @property
    def source(self) -> str:
        return "; ".join(b.source for b in self.benchmarks)

    def _wanted(self, values: Mapping[str, float]) -> dict[str, float]:
        return {k: v for k, v in values.items() if self.metrics is None or k in self.metrics}

    def lookup(self, arch: str) -> dict[str, float]:
        """The recorded metrics of `arch` from the first benchmark that holds it (a benchmark as fitness, e.g.
        REA and random search's oracle line); BenchmarkError when none does."""
        reasons = []
        for b in self.benchmarks:
            try:
                got = self._wanted(b.lookup(arch))
            except BenchmarkError as e:
                reasons.append(str(e))
                continue
            if got:
                return got
        raise BenchmarkError("; ".join(reasons) or f"no benchmark given records {arch}")

    def best(self, archs: Iterable[str]) -> dict[str, float] | None:
        """The entry of the best of `archs` by the first metric its lookup gives (a search's candidates: the
        ceiling any validation of them can reach; NASWOT's "optimal" line, Mellor et al. 2021, Table 2).
        Architectures no benchmark holds are skipped, like any failing lookup; None when none is held."""
        found: dict[str, float] | None = None
        for arch in dict.fromkeys(archs):
            try:
                got = self.lookup(arch)
            except Exception as e:  # noqa: BLE001 - a missing or failing entry only leaves this arch out
                log.debug("no benchmark entry for %s: %s", arch, e)
                continue
            if found is None or next(iter(got.values())) > next(iter(found.values())):
                found = got
        return found

    def result_entries(self, arch: str) -> dict[str, Any]:
        """result.json's benchmark entries for `arch`: `benchmark` (metric -> value), `benchmark_source`,
        `benchmark_sources` (metric -> source) and, when a lookup failed, `benchmark_errors` (source -> reason)."""
        values: dict[str, float] = {}
        sources: dict[str, str] = {}
        errors: dict[str, str] = {}
        for b in self.benchmarks:
            try:
                got = self._wanted(b.lookup(arch))
            except BenchmarkError as e:
                errors[b.source] = str(e)
            except Exception as e:  # a third-party API failing in its own way: recorded, never fatal
                errors[b.source] = f"{type(e).__name__}: {e}"
            else:
                for k, v in got.items():
                    if k not in values:  # the first source given wins a metric two sources share
                        values[k], sources[k] = v, b.source
        for src, why in errors.items():
            log.warning("benchmark lookup failed (%s): %s", src, why)
        out: dict[str, Any] = {"benchmark": values, "benchmark_source": "; ".join(dict.fromkeys(sources.values())),
                               "benchmark_sources": sources}
        if errors:
            out["benchmark_errors"] = errors
        return out


def merge_lookup(result: Mapping[str, Any], found: Mapping[str, Any]) -> dict[str, Any]:
    """`result` with the lookup `found` added: new values join (and replace) earlier ones, and
    `benchmark_errors` holds the failures of this latest lookup only (none: the key is dropped)."""
    out = dict(result)
    values = {**result.get("benchmark", {}), **found["benchmark"]}
    sources = {**result.get("benchmark_sources", {}), **found["benchmark_sources"]}
    out["benchmark"], out["benchmark_sources"] = values, sources
    out["benchmark_source"] = "; ".join(dict.fromkeys(sources.values()))
    errors = dict(found.get("benchmark_errors", {}))
    out.pop("benchmark_errors", None)
    if errors:
        out["benchmark_errors"] = errors
    return out
