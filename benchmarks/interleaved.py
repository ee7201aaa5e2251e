"""Interleaved timing shared by the side-by-side benchmarks: the contenders run in turn, in alternating order,
so a drift of the shared machine's speed hits each alike; medians, as the developers' guide asks."""
from __future__ import annotations

import statistics
import time
from typing import Callable, Mapping


def interleaved_medians(runs: Mapping[str, Callable[[], object]], repeats: int, warmup: int = 2) -> dict[str, float]:
    """Median wall seconds of each of `runs` over `repeats` rounds after `warmup` untimed rounds; in each round
    every run goes once, the order reversed every other round."""
    names = list(runs)
    times: dict[str, list[float]] = {k: [] for k in names}
    for r in range(warmup + repeats):
        for name in (names[::-1] if r % 2 else names):
            t = time.perf_counter()
            runs[name]()
            if r >= warmup:
                times[name].append(time.perf_counter() - t)
    return {k: statistics.median(v) for k, v in times.items()}
