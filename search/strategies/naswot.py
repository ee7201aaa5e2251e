"""The `naswot` strategy: NAS without training (Mellor et al. 2021, Algorithm 1): sample N architectures,
score each freshly initialised network on one minibatch with a proxy (nwot by default, the paper's
log|K_H|), keep the best. Scores are cached across runs (--score-cache), as 500 runs of N=1000 on NB201
touch each cell many times."""
from __future__ import annotations

from dataclasses import replace

from ..config import DEFAULT_PROXY, SearchConfig
from .strategy import STRATEGIES
from .sampling import SampleAndScore


@STRATEGIES.register("naswot")
class Naswot(SampleAndScore):
    """N = --samples uniform architectures scored by --proxy (default nwot) on one minibatch."""

    def settle(self, settings: SearchConfig) -> SearchConfig:
        """No --proxy means nwot (NASWOT's score), written as such into config.yaml; BN as every sampler."""
        return super().settle(replace(settings, proxy=settings.proxy or DEFAULT_PROXY))
