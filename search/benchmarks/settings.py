"""The benchmark settings shared by `opscore search` and `opscore lookup` (flags use these names with dashes).

Each registered benchmark source (search.benchmarks.source.BENCHMARKS) declares the settings that point at its
files in its own module, each a subclass of `MetricSettings` (search.benchmarks.source), the one setting every
source shares. `BenchmarkSettings` is
all of them together. They choose what is looked up after a search, never what the search does, so a run folder
resumes whatever they are (`FREE`).
"""
from __future__ import annotations

import dataclasses

from runtime.settings import merge_settings

from .source import BENCHMARKS

def _sources() -> list[type]:
    from . import table, nats, nb301  # noqa: F401  (register themselves, in this order)
    return [BENCHMARKS.settings(n) for n in BENCHMARKS.names()]  # type: ignore[misc]


def _any_source(self: object) -> bool:
    """Whether a benchmark is configured (a file or folder of some source is given)."""
    return any(f.metadata.get("path") and getattr(self, f.name) for f in dataclasses.fields(self))  # type: ignore


BenchmarkSettings = merge_settings("BenchmarkSettings", _sources(),
                                   "Where the looked-up accuracies come from (every registered source's settings) "
                                   "and which of them result.json records.", methods={"any_source": _any_source})

FREE: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(BenchmarkSettings))
