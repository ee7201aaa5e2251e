"""Search strategy contract: a run is the stages prepare -> propose -> validate -> report.

The driver (search.search_run) opens the run folder, the data, the device and the benchmark, hands them to
the strategy in a `SearchContext`, and writes what `report` returns as result.json. A new strategy is
one module defining a `Strategy` subclass registered in STRATEGIES, with its options as its `Settings`
dataclass (the driver builds it with `STRATEGIES.create(name, **its_options)`); nothing else changes.
"""
from __future__ import annotations

import logging
import math
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar, Mapping

import torch
from torch.utils.data import Dataset

from runtime.rundir import RunFolder
from runtime.settings import NoOptions, Schema, plugin_settings
from scoring.selection import best
from supernet.registry import Registry
from supernet.spaces.space import SearchSpace

from ..benchmarks import BenchmarkSet
from ..config import ConfigError, SearchConfig
from runtime.distributed import Workers

log = logging.getLogger(__name__)

CANDIDATES = "candidates.json"  # every strategy's candidates (genotype + its scores); `sample_oracle` reads it


@dataclass
class SearchContext:
    """What every stage of a search receives (built once by the driver)."""

    settings: SearchConfig
    folder: RunFolder
    workers: Workers
    space: SearchSpace
    dataset: Dataset
    num_classes: int
    device: torch.device
    benchmark: BenchmarkSet | None = None  # looked up by the driver after result.json is written
    progress: bool = True
    writer: Any = None                 # TensorBoard writer (writes nothing on ranks other than 0)
    input_size: int = 32               # side of the scoring images (networks are built for it)
    schema: Schema = field(default_factory=Schema)  # how saved settings compare (every plugin option's default)
    started: float = field(default_factory=time.perf_counter)  # clock of the whole search

    @property
    def show_progress(self) -> bool:
        """Progress bars on the main process only."""
        return self.progress and self.workers.is_main

    def carry(self, seconds: float) -> None:
        """Count `seconds` that an interrupted run spent and checkpointed in the search's time."""
        self.started -= seconds

    def seconds(self) -> float:
        """Seconds of the search so far, checkpointed time of interrupted runs included."""
        return time.perf_counter() - self.started


class Strategy(ABC):
    """Base of every search strategy; `markers` are the run-folder files that show an earlier run."""

    name: ClassVar[str] = ""
    markers: ClassVar[tuple[str, ...]] = ("result.json",)
    Settings: ClassVar[type] = NoOptions  # the strategy's own options (flags, YAML keys), built by the driver

    def __init__(self, **options: Any) -> None:
        self.settings: Any = plugin_settings(self.Settings, options, f"strategy {self.name!r}")

    def settle(self, settings: SearchConfig) -> SearchConfig:
        """The settings with this strategy's defaults filled in (e.g. its proxy), before they are saved."""
        return settings

    def check(self, settings: SearchConfig) -> None:
        """Fail early, before data is loaded, on settings this strategy cannot use (names, ranges)."""

    def prepare(self, ctx: SearchContext) -> None:
        """Build what the later stages share (supernet, scorer, proxy, ...); nothing by default."""

    @abstractmethod
    def propose(self, ctx: SearchContext) -> list[str]:
        """The candidate genotypes (space text format), unique, in the order they were found."""

    @abstractmethod
    def validate(self, ctx: SearchContext, candidates: list[str]) -> dict[str, float]:
        """A score per candidate, higher is better (NaN rule of scoring.selection)."""

    def report(self, ctx: SearchContext, candidates: list[str], scores: Mapping[str, float]) -> dict[str, Any]:
        """result.json's content: the winner and what every search records; strategies add their details.
        Benchmark lookups are the driver's, after the result is written (a failed one never loses it)."""
        winner = best({g: scores[g] for g in candidates}, "validation")
        silent = no_signal({g: scores[g] for g in candidates})
        s = ctx.settings
        result: dict[str, Any] = {
            "strategy": s.strategy, "space": s.space, "seed": s.seed, "genotype": winner,
            "genotype_json": ctx.space.genotype_to_json(ctx.space.parse_genotype(winner)),
            "validation_score": scores[winner], "unique_candidates": len(candidates),
            "device": str(ctx.device), "workers": ctx.workers.world,
            # float rounding depends on both, and with it the outcome of a short training (tse*, fear)
            "threads": torch.get_num_threads(), "torch": torch.__version__,
        }
        if silent:
            log.warning("%s", silent)
            result["no_signal"] = silent
        result.update(self.details(ctx))
        return result

    def details(self, ctx: SearchContext) -> dict[str, Any]:
        """Strategy-specific entries of result.json (settings it used, counts, times)."""
        return {}


def no_signal(scores: Mapping[str, float]) -> str | None:
    """Why the winner of `scores` is an arbitrary pick (two or more candidates, every score -inf or NaN), or
    None when some score informs or there was nothing to choose (a single candidate)."""
    if len(scores) < 2 or any(not math.isnan(v) and v > -math.inf for v in scores.values()):
        return None
    return (f"every candidate's validation score is -inf or NaN ({len(scores)} candidates): the scores carry no "
            "information (for a data-dependent proxy such as nwot, check that the scoring images differ), so the "
            "genotype is an arbitrary pick, not a search result")


def one_process(ctx: SearchContext) -> None:
    """Refuse torchrun for a strategy that runs in one process (its evaluations are sequential)."""
    if ctx.workers.world > 1:
        raise ConfigError(f"--strategy {ctx.settings.strategy} runs in one process; start it without torchrun")


STRATEGIES: Registry[type[Strategy]] = Registry("search strategy")
