"""Sample-and-score baselines (random search, NASWOT): draw K architectures uniformly, keep the fittest.

propose: K = --samples genotypes drawn i.i.d. uniformly from the space (`SearchSpace.sample`, seeded by
(seed, BASELINE_SAMPLE)); validate: the fitness of each unique one (search.strategies.fitness: a
benchmark table or a proxy of a fresh stand-alone network on one minibatch), journalled in
evaluations.jsonl so `--resume` continues a killed run. With a table, the driver records `sample_oracle`:
the best table accuracy in the sample (NASWOT's "optimal" line, Mellor et al. 2021, Table 2).
"""
from __future__ import annotations

import logging

import numpy as np
from tqdm import tqdm

from runtime import seeds
from runtime.seeds import derive_seed

from .strategy import CANDIDATES, SearchContext
from .fitness import FitnessStrategy

log = logging.getLogger(__name__)


class SampleAndScore(FitnessStrategy):
    """K uniform samples, the best fitness wins; subclasses set the default proxy."""

    def propose(self, ctx: SearchContext) -> list[str]:
        s, space = ctx.settings, ctx.space
        rng = np.random.default_rng(derive_seed(s.seed, seeds.BASELINE_SAMPLE))
        self.drawn = [space.format_genotype(space.sample(rng)) for _ in range(self.settings.samples)]
        log.info("search %s: strategy=%s space=%s samples=%d fitness=%s seed=%d", ctx.folder.root, s.strategy,
                 s.space, self.settings.samples, self.fitness_label, s.seed)
        return list(dict.fromkeys(self.drawn))

    def validate(self, ctx: SearchContext, candidates: list[str]) -> dict[str, float]:
        scores = {g: self.journal(g) for g in tqdm(candidates, desc="scoring", disable=not ctx.show_progress)}
        ctx.folder.write_json(CANDIDATES, [{"genotype": g, "sampled": self.drawn.count(g), "fitness": scores[g]}
                                                  for g in candidates])
        return scores
