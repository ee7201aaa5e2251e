"""Sample-and-score baselines (random search, NASWOT): draw K architectures uniformly, keep the fittest.

propose: K = --samples genotypes drawn i.i.d. uniformly from the space (`SearchSpace.sample`, seeded by
(seed, BASELINE_SAMPLE)); validate: the fitness of each unique one (search.strategies.fitness: a
benchmark table or a proxy of a fresh stand-alone network on one minibatch), journalled in
evaluations.jsonl so `--resume` continues a killed run. With a table, result.json also records
`sample_oracle`: the best table accuracy in the sample (NASWOT's "optimal" line, Mellor et al. 2021, Table 2).
"""
from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

import numpy as np
from tqdm import tqdm

from runtime import seeds
from runtime.seeds import derive_seed

from ..benchmarks import BenchmarkError
from ..config import SearchConfig
from .base import SearchContext, Strategy, one_process
from .fitness import JOURNAL, EvaluationJournal, fitness_kind, make_fitness

log = logging.getLogger(__name__)


class SampleAndScore(Strategy):
    """K uniform samples, the best fitness wins; subclasses set the default proxy."""

    markers = (JOURNAL, "result.json")

    def settle(self, settings: SearchConfig) -> SearchConfig:
        """No --bn-mode means batch statistics (NASWOT scores networks in train mode, Mellor et al. issue #1)."""
        return replace(settings, bn_mode=settings.bn_mode or "batch")

    def check(self, settings: SearchConfig) -> None:
        """A fitness exists (a proxy, or a benchmark table)."""
        fitness_kind(settings)

    def prepare(self, ctx: SearchContext) -> None:
        """The fitness function and the journal of a killed run."""
        one_process(ctx)
        fn, self.fitness_label, self.cache = make_fitness(ctx)
        self.journal = EvaluationJournal(ctx.folder, fn)
        ctx.carry(self.journal.replayed_seconds)

    def propose(self, ctx: SearchContext) -> list[str]:
        s, space = ctx.settings, ctx.space
        rng = np.random.default_rng(derive_seed(s.seed, seeds.BASELINE_SAMPLE))
        self.drawn = [space.format_genotype(space.sample(rng)) for _ in range(s.samples)]
        log.info("search %s: strategy=%s space=%s samples=%d fitness=%s seed=%d", ctx.folder.root, s.strategy,
                 s.space, s.samples, self.fitness_label, s.seed)
        return list(dict.fromkeys(self.drawn))

    def validate(self, ctx: SearchContext, candidates: list[str]) -> dict[str, float]:
        scores = {g: self.journal(g) for g in tqdm(candidates, desc="scoring", disable=not ctx.show_progress)}
        ctx.folder.write_json("candidates.json", [{"genotype": g, "sampled": self.drawn.count(g), "fitness": scores[g]}
                                                  for g in candidates])
        return scores

    def details(self, ctx: SearchContext) -> dict[str, Any]:
        s = ctx.settings
        out: dict[str, Any] = {"samples": s.samples, "fitness": self.fitness_label, "proxy": s.proxy,
                               "evaluations": self.journal.count, "evaluation_seconds": self.journal.seconds}
        if s.proxy:
            out.update(bn_mode=s.bn_mode, batch_size=s.batch_size, score_seed=s.score_seed,
                       score_cache=s.score_cache, cache_hits=self.cache.hits if self.cache else 0)
        if ctx.benchmark is not None:
            out["sample_oracle"] = sample_oracle(ctx, self.journal.rows)
        return out


def sample_oracle(ctx: SearchContext, rows: list[dict[str, Any]]) -> dict[str, float] | None:
    """The benchmark entry of the best evaluated genotype by the table's first column (None if none is in it)."""
    best: dict[str, float] | None = None
    for g in dict.fromkeys(r["genotype"] for r in rows):
        try:
            acc = ctx.benchmark.lookup(g)  # type: ignore[union-attr]
        except BenchmarkError:
            continue
        if best is None or next(iter(acc.values())) > next(iter(best.values())):
            best = acc
    return best
