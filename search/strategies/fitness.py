"""Fitness of an architecture for the sampling baselines (random, naswot, evolution), and their journal.

Two fitnesses: a benchmark table's accuracy (the oracle line of the NASWOT and Zero-Cost-PT tables;
no network is built) or a proxy of a freshly initialised stand-alone network on one minibatch (NASWOT,
Mellor et al. 2021, Section 4: every network gets the same batch and the same initialisation seed, so a
score depends on the genotype alone and is cached across runs, see search.score_cache).

`EvaluationJournal` is the run folder's `evaluations.jsonl`: one fsynced line per evaluation (index,
genotype, fitness, seconds), read back on `--resume` so that a killed run replays the recorded values
in the same order and ends exactly as the uninterrupted run.
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable

import torch

from runtime import seeds
from runtime.io import append_line, json_safe, read_journal
from runtime.rundir import RunFolder, RunFolderError
from runtime.seeds import SEED_MAX, derive_seed
from runtime.settings import setting
from scoring.proxies import PROXIES, get_proxy
from supernet.spaces.space import NetConfig

from ..batches import BatchStream
from ..benchmarks import Benchmark
from ..config import ConfigError, SearchConfig
from ..score_cache import CACHE_FORMAT, ScoreCache
from .strategy import SearchContext, Strategy, one_process

log = logging.getLogger(__name__)

JOURNAL = "evaluations.jsonl"
Fitness = Callable[[str], float]


def fitness_kind(settings: SearchConfig) -> str:
    """'proxy' when --proxy is given, else 'benchmark' when a table is, else a one-line ConfigError."""
    if settings.proxy:
        PROXIES.get(settings.proxy)
        return "proxy"
    if settings.benchmark_table or settings.nats_bench:
        return "benchmark"
    raise ConfigError(f"--strategy {settings.strategy} needs a fitness: give --proxy NAME (e.g. nwot) or "
                      "--benchmark-table CSV (the oracle baseline)")


def benchmark_fitness(benchmark: Benchmark) -> tuple[Fitness, str]:
    """The table's first accuracy column of a genotype (an arch missing from the table is an error)."""
    def fitness(genotype: str) -> float:
        return float(next(iter(benchmark.lookup(genotype).values())))
    return fitness, "benchmark"


@dataclass
class SamplingSettings:
    """Options of the baselines that evaluate architectures one by one (naswot, random, evolution)."""

    samples: int = setting(100, "naswot/random/evolution: architectures evaluated (NASWOT N, random K, evolution's "
                                "total including the initial population)", minimum=1)
    score_seed: int = setting(0, "naswot/random/evolution with a proxy: seed of the scoring minibatch and of every "
                                 "network's initial weights, shared by runs of any --seed so one score cache serves them",
                              minimum=0, maximum=SEED_MAX)
    score_cache: str | None = setting(None, "naswot/random/evolution with a proxy: score cache file (JSON lines) reused "
                                            "by every run with the same scoring key", path=True)


def scoring_key(ctx: SearchContext, net: dict[str, Any], init_seed: int, score_seed: int) -> dict[str, Any]:
    """Everything that changes a stand-alone proxy score (the score cache's key)."""
    s = ctx.settings
    root = None if s.data_root is None else str(Path(s.data_root).resolve())
    return {
        "format": CACHE_FORMAT, "space": s.space, "space_options": s.space_options(),
        "proxy": s.proxy, "proxy_options": {"bn_mode": s.bn_mode}, "network": net,
        "data": {"dataset": s.dataset, "root": root, "batch_size": s.batch_size, "seed": score_seed,
                 "augment": s.augment, "channels_last": s.channels_last,
                 "synthetic_seed": s.seed if s.dataset == "synthetic" else None},
        "init_seed": init_seed, "device": ctx.device.type, "torch": torch.__version__,
    }


def proxy_fitness(ctx: SearchContext, opts: SamplingSettings) -> tuple[Fitness, ScoreCache]:
    """The proxy of a fresh stand-alone network on the one scoring minibatch, through the score cache."""
    s = ctx.settings
    proxy = get_proxy(s.proxy, bn_mode=s.bn_mode, **s.options_of(PROXIES, s.proxy))  # type: ignore[arg-type]
    batch = BatchStream(ctx.dataset, s.batch_size, derive_seed(opts.score_seed, seeds.BASELINE_SCORE), ctx.device,
                        s.channels_last).next()
    base = ctx.space.default_net_config("validation")
    net_cfg = NetConfig(channels=s.val_channels or base.channels, cells=s.val_cells or base.cells,
                        num_classes=ctx.num_classes, input_size=ctx.input_size)
    init_seed = derive_seed(opts.score_seed, seeds.BASELINE_SCORE, 1)
    net = {"channels": net_cfg.channels, "cells": net_cfg.cells, "num_classes": ctx.num_classes}
    if ctx.input_size != 32:  # keys of 32 px networks stay as they were written
        net["input_size"] = ctx.input_size
    key = scoring_key(ctx, net, init_seed, opts.score_seed)
    cache = ScoreCache(opts.score_cache, key)

    def fitness(genotype: str) -> float:
        hit = cache.get(genotype)
        if hit is not None:
            return hit
        torch.manual_seed(init_seed)  # every network starts from the same seed (NASWOT resets it per network)
        net = ctx.space.build_network(ctx.space.parse_genotype(genotype), net_cfg).to(ctx.device)
        if s.channels_last:
            net = net.to(memory_format=torch.channels_last)
        with proxy.session(net) as ev:
            value = float(ev(*batch))
        cache.put(genotype, value)
        return value
    return fitness, cache


def make_fitness(ctx: SearchContext, opts: SamplingSettings) -> tuple[Fitness, str, ScoreCache | None]:
    """The run's fitness function, its label ('benchmark' or 'proxy:NAME') and the score cache if any."""
    if fitness_kind(ctx.settings) == "benchmark":
        if ctx.benchmark is None:
            raise ConfigError("benchmark fitness needs --benchmark-table CSV")
        fn, label = benchmark_fitness(ctx.benchmark)
        return fn, label, None
    fn, cache = proxy_fitness(ctx, opts)
    return fn, f"proxy:{ctx.settings.proxy}", cache


class EvaluationJournal:
    """The fsynced evaluations of a run (evaluations.jsonl); replays them in order on resume."""

    def __init__(self, folder: RunFolder, fitness: Fitness) -> None:
        self.folder, self.fitness = folder, fitness
        self.rows: list[dict[str, Any]] = self._load() if folder.resumed else []
        self.replayed = len(self.rows)
        self.count = 0
        if not folder.resumed and folder.writes:
            folder.path(JOURNAL).unlink(missing_ok=True)

    def _load(self) -> list[dict[str, Any]]:
        """The rows of a killed run; a torn last line is cut from the file."""
        return read_journal(self.folder.path(JOURNAL), lambda i, row: row.get("index") == i, cut=self.folder.writes)

    @property
    def replayed_seconds(self) -> float:
        """Seconds the killed run spent on the evaluations it recorded."""
        return sum(float(r["seconds"]) for r in self.rows[:self.replayed])

    def __call__(self, genotype: str) -> float:
        """The fitness of the next evaluation: recorded (resume) or computed and appended."""
        i = self.count
        self.count += 1
        if i < len(self.rows):
            row = self.rows[i]
            if row["genotype"] != genotype:
                raise RunFolderError(f"cannot resume {self.folder.root}: evaluation {i} was {row['genotype']} but "
                                     f"is now {genotype} (the code changed); delete {self.folder.path(JOURNAL)} "
                                     "to redo the run")
            return float(row["fitness"])
        t0 = time.perf_counter()
        value = self.fitness(genotype)
        row = {"index": i, "genotype": genotype, "fitness": value, "seconds": time.perf_counter() - t0}
        self.rows.append(row)
        if self.folder.writes:
            append_line(self.folder.path(JOURNAL), json.dumps(json_safe(row)))
        return value

    @property
    def seconds(self) -> float:
        """Seconds of every evaluation so far (recorded ones included)."""
        return sum(float(r["seconds"]) for r in self.rows)


class FitnessStrategy(Strategy):
    """Common part of the baselines that evaluate architectures one by one with a fitness (a proxy on a
    stand-alone network, or a benchmark table): BN mode, the fitness, the journal and its details."""

    markers = (JOURNAL, "result.json")
    Settings = SamplingSettings

    def settle(self, settings: SearchConfig) -> SearchConfig:
        """No --bn-mode means batch statistics (NASWOT scores networks in train mode, Mellor et al. issue #1)."""
        return replace(settings, bn_mode=settings.bn_mode or "batch")

    def check(self, settings: SearchConfig) -> None:
        """A fitness exists (a proxy, or a benchmark table)."""
        fitness_kind(settings)

    def prepare(self, ctx: SearchContext) -> None:
        """The fitness function and the journal of a killed run."""
        one_process(ctx)
        fn, self.fitness_label, self.cache = make_fitness(ctx, self.settings)
        self.journal = EvaluationJournal(ctx.folder, fn)
        ctx.carry(self.journal.replayed_seconds)

    def details(self, ctx: SearchContext) -> dict[str, Any]:
        s = ctx.settings
        out: dict[str, Any] = {"samples": self.settings.samples, "fitness": self.fitness_label, "proxy": s.proxy,
                               "evaluations": self.journal.count, "evaluation_seconds": self.journal.seconds}
        if s.proxy:
            out.update(bn_mode=s.bn_mode, batch_size=s.batch_size, score_seed=self.settings.score_seed,
                       score_cache=self.settings.score_cache, cache_hits=self.cache.hits if self.cache else 0)
        return out
