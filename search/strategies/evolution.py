"""The `evolution` strategy: regularised evolution (Real et al. 2019, Algorithm 1; "REA").

A population of P = --population uniform samples, then cycles until --samples architectures have been
evaluated (C = samples - P): draw S = --sample-size members uniformly without replacement, the fittest
is the parent (ties: the oldest), its child (`SearchSpace.mutate`: exactly one decision changed) is
evaluated and joins the population, whose oldest member dies (age-based removal). The winner is the
fittest architecture ever evaluated. Fitness: a proxy (Zero-Cost-EVO, Abdelfattah et al. 2021) or, without
--proxy, the benchmark table (REA, the oracle line). Every evaluation is journalled (evaluations.jsonl):
`--resume` replays them with the same draws and ends as the uninterrupted run.
"""
from __future__ import annotations

import logging
import math
from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np
from tqdm import tqdm

from runtime import seeds
from runtime.seeds import derive_seed

from runtime.settings import setting

from ..config import ConfigError
from .strategy import CANDIDATES, STRATEGIES, SearchContext
from .fitness import FitnessStrategy, SamplingSettings

log = logging.getLogger(__name__)


def _rank_key(value: float) -> float:
    """NaN fitness ranks below every number (the NaN rule of scoring.selection)."""
    return -math.inf if math.isnan(value) else value


@dataclass
class EvolutionSettings(SamplingSettings):
    """Regularised evolution's options beside the sampling ones."""

    population: int = setting(20, "evolution: population size P (regularised evolution, Real et al. 2019)", minimum=1)
    sample_size: int = setting(5, "evolution: tournament sample size S (the best of S random members is the parent)",
                               minimum=1)

    def validate(self) -> None:
        """S <= P <= samples."""
        if not self.sample_size <= self.population <= self.samples:
            raise ConfigError(f"evolution needs --sample-size <= --population <= --samples, got "
                              f"{self.sample_size}, {self.population}, {self.samples}")


@STRATEGIES.register("evolution")
class Evolution(FitnessStrategy):
    """Regularised evolution with population --population, tournament --sample-size, --samples evaluations."""

    Settings = EvolutionSettings

    def propose(self, ctx: SearchContext) -> list[str]:
        s, space, o = ctx.settings, ctx.space, self.settings
        rng = np.random.default_rng(derive_seed(s.seed, seeds.BASELINE_SAMPLE))
        log.info("search %s: strategy=evolution space=%s P=%d S=%d samples=%d fitness=%s seed=%d", ctx.folder.root,
                 s.space, o.population, o.sample_size, o.samples, self.fitness_label, s.seed)
        population: deque[tuple[str, float]] = deque()
        self.history: list[tuple[str, float]] = []
        bar = tqdm(total=o.samples, desc="evolution", disable=not ctx.show_progress)

        def add(genotype: str) -> None:
            member = (genotype, self.journal(genotype))
            population.append(member)
            self.history.append(member)
            bar.update(1)

        for _ in range(o.population):
            add(space.format_genotype(space.sample(rng)))
        for _ in range(o.samples - o.population):
            picks = sorted(int(k) for k in rng.choice(len(population), size=o.sample_size, replace=False))
            parent = max(picks, key=lambda k: _rank_key(population[k][1]))  # first maximum: the oldest
            add(space.format_genotype(space.mutate(space.parse_genotype(population[parent][0]), rng)))
            population.popleft()  # age-based removal
        bar.close()
        return list(dict.fromkeys(g for g, _ in self.history))

    def validate(self, ctx: SearchContext, candidates: list[str]) -> dict[str, float]:
        fitness = {g: f for g, f in self.history}
        ctx.folder.write_json(CANDIDATES, [{"genotype": g, "fitness": fitness[g]} for g in candidates])
        return {g: fitness[g] for g in candidates}

    def details(self, ctx: SearchContext) -> dict[str, Any]:
        o = self.settings
        return {"population": o.population, "sample_size": o.sample_size, "cycles": o.samples - o.population,
                **super().details(ctx)}
