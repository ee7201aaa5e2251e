"""The `random` strategy: random search, K uniform samples judged by a benchmark table (the oracle line of
Mellor et al. 2021 and Xiang et al. 2023) when no --proxy is given, or by a proxy."""
from __future__ import annotations

from .strategy import STRATEGIES
from .sampling import SampleAndScore


@STRATEGIES.register("random")
class RandomSearch(SampleAndScore):
    """K = --samples uniform architectures; fitness: --proxy, else --benchmark-table (one of them needed)."""
