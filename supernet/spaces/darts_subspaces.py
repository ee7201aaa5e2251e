"""RobustDARTS subspaces S1-S4 of the DARTS space (Zela et al. 2020, Section 3), as used by Zero-Cost-PT.

S1: a per-edge pair of ops (normal and reduce cells differ); S2: {skip_connect, sep_conv_3x3};
S3: {none, skip_connect, sep_conv_3x3}; S4: {noise, sep_conv_3x3}. Edges are listed in DARTS order:
node 2 from 0, 1; node 3 from 0..2; node 4 from 0..3; node 5 from 0..4.
"""
from __future__ import annotations

from typing import ClassVar

from runtime.settings import NoOptions

from .darts import DartsSpace
from .darts_genotype import STEPS, node_inputs
from . import SPACES

SKIP, MAX, AVG = "skip_connect", "max_pool_3x3", "avg_pool_3x3"
SEP3, DIL3, DIL5 = "sep_conv_3x3", "dil_conv_3x3", "dil_conv_5x5"

S1_NORMAL: tuple[tuple[str, str], ...] = (
    (SKIP, DIL3), (SKIP, DIL5),
    (SKIP, DIL5), (SKIP, SEP3), (SKIP, DIL3),
    (MAX, SKIP), (SKIP, SEP3), (SKIP, SEP3), (SKIP, DIL3),
    (SKIP, SEP3), (MAX, SKIP), (SKIP, DIL3), (DIL3, DIL5), (DIL3, DIL5),
)
S1_REDUCE: tuple[tuple[str, str], ...] = (
    (MAX, AVG), (MAX, DIL3),
    (MAX, AVG), (MAX, AVG), (SKIP, DIL5),
    (MAX, AVG), (MAX, SEP3), (SKIP, DIL3), (SKIP, DIL5),
    (MAX, AVG), (MAX, AVG), (SKIP, DIL5), (SKIP, DIL5), (SKIP, DIL5),
)
S2_OPS = (SKIP, SEP3)
S3_OPS = ("none", SKIP, SEP3)
S4_OPS = ("noise", SEP3)

_POSITION = {ij: k for k, ij in enumerate(node_inputs(STEPS))}  # (i, j) -> index in DARTS edge order


class _Subspace(DartsSpace):
    """A DARTS space whose candidate ops per edge are fixed by the subspace (no options)."""

    normal_ops: ClassVar[tuple[tuple[str, ...], ...]]
    reduce_ops: ClassVar[tuple[tuple[str, ...], ...]]
    Settings: ClassVar[type] = NoOptions
    text_format = ""

    @classmethod
    def claims_text(cls, text: str) -> bool:
        """A subspace's genotypes are DARTS genotypes: the darts space reads them (and retrains them)."""
        return False

    def __init__(self) -> None:
        super().__init__(include_none=False)

    def edge_ops(self, cell_type: str, i: int, j: int) -> tuple[str, ...]:
        table = self.normal_ops if cell_type == "normal" else self.reduce_ops
        return table[_POSITION[(i, j)]]


def _same(ops: tuple[str, ...]) -> tuple[tuple[str, ...], ...]:
    return (ops,) * len(_POSITION)


@SPACES.register("darts-s1")
class DartsS1(_Subspace):
    """S1: the per-edge op pairs that DARTS found most important (RobustDARTS)."""

    normal_ops = S1_NORMAL
    reduce_ops = S1_REDUCE


@SPACES.register("darts-s2")
class DartsS2(_Subspace):
    """S2: skip_connect or sep_conv_3x3 on every edge."""

    normal_ops = reduce_ops = _same(S2_OPS)


@SPACES.register("darts-s3")
class DartsS3(_Subspace):
    """S3: none, skip_connect or sep_conv_3x3 on every edge ('none' is a real candidate here)."""

    normal_ops = reduce_ops = _same(S3_OPS)


@SPACES.register("darts-s4")
class DartsS4(_Subspace):
    """S4: noise (fresh N(0,1) shaped like the input) or sep_conv_3x3 on every edge."""

    normal_ops = reduce_ops = _same(S4_OPS)
