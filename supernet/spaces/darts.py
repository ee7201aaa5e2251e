"""The DARTS CNN space (Liu et al. 2019): 2 cell types x 14 edges, 7 ops ('none' optional), 2 inputs per node.

Selection has two phases (DARTS-PT, Zero-Cost-PT): an op for each of the 28 edges in the edge order,
then topology: every intermediate node with more than 2 input edges keeps 2 of them (`topology_groups`).
The option `include_none` adds 'none' to every edge's candidates (off by default, as in DARTS-PT/ZC-PT).
This module also re-exports the genotype and network API used by retraining.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from torch import nn

from runtime.settings import setting

from ..arch_state import ArchState
from .space import GenotypeError, NetConfig, SearchSpace, TopologyGroup
from .darts_genotype import (CELL_TYPES, DARTS_V1, DARTS_V2, DEFAULT_CONCAT, STEPS, DartsGenotype,
                             darts_genotype_from_json, darts_genotype_to_json, edge_id,
                             format_darts_genotype, node_inputs, parse_darts_genotype)
from .darts_networks import NetworkCIFAR, NetworkImageNet
from .darts_ops import DARTS_OPS
from .darts_supernet import DartsSupernet
from . import SPACES

__all__ = ["DartsSpace", "DartsGenotype", "parse_darts_genotype", "format_darts_genotype", "DARTS_V1", "DARTS_V2",
           "NetworkCIFAR", "NetworkImageNet", "IMAGENET_MIN_INPUT"]

IMAGENET_MIN_INPUT = 65  # build_network picks NetworkImageNet for inputs larger than 64 pixels


@dataclass
class DartsSpaceSettings:
    """The DARTS space's option."""

    include_none: bool | None = setting(None, "darts: make 'none' a candidate op (default: the space's, excluded as "
                                              "in DARTS-PT)")


@SPACES.register("darts")
class DartsSpace(SearchSpace):
    """DARTS CNN space; subclasses change only `edge_ops` (the RobustDARTS subspaces)."""

    genotype_without_none: ClassVar[bool] = True
    Settings: ClassVar[type] = DartsSpaceSettings
    text_format = "a DARTS Genotype(...) string or name (DARTS_V2)"

    @classmethod
    def claims_text(cls, text: str) -> bool:
        s = text.strip()
        return s.startswith("Genotype(") or s.startswith("Genotype (")

    def __init__(self, include_none: bool = False) -> None:
        self.include_none = bool(include_none)

    def edge_ops(self, cell_type: str, i: int, j: int) -> tuple[str, ...]:
        """Candidate ops of edge j -> i of `cell_type` cells."""
        return DARTS_OPS if self.include_none else tuple(o for o in DARTS_OPS if o != "none")

    def candidates(self) -> dict[str, tuple[str, ...]]:
        """Edges from input to output, normal before reduce at each position (the first cell is normal)."""
        return {edge_id(ct, i, j): tuple(self.edge_ops(ct, i, j)) for i, j in node_inputs(STEPS) for ct in CELL_TYPES}

    def topology_groups(self) -> list[TopologyGroup]:
        """Nodes 3..5 of each cell type keep 2 of their 3, 4, 5 input edges (node 2 has only 2)."""
        return [TopologyGroup(f"{ct}:{i}", tuple(edge_id(ct, i, j) for j in range(i)), 2)
                for i in range(3, STEPS + 2) for ct in CELL_TYPES]

    def default_net_config(self, purpose: str) -> NetConfig:
        """C=16, 8 cells for the search supernet and the validation networks (DARTS-PT / ZC-PT)."""
        return NetConfig(channels=16, cells=8)

    def build_supernet(self, state: ArchState, cfg: NetConfig) -> nn.Module:
        lay = cfg.layout
        return DartsSupernet(state, cfg.channels or 16, cfg.cells or 8, cfg.num_classes, cfg.mixing,
                             stem_multiplier=lay.stem_multiplier or 3, reduce_cells=lay.reduce_cells,
                             final_act=lay.final_act, affine=lay.affine_ops, pool_bn=lay.pool_bn, stem=lay.stem)

    def genotype_from_state(self, state: ArchState) -> DartsGenotype:
        """The decided op of the 2 surviving input edges of every node, inputs in ascending order (a removed
        edge, active set empty, needs no decision). 'none' never enters the genotype: as RobustDARTS's parser
        reads the projected weights (1 on a kept edge's op, 0 elsewhere; DARTS-PT), each node takes its inputs
        by their largest weight other than 'none', so an input kept with 'none' ranks with the removed ones
        (ties: the lower input first), and an input taken at weight 0 gets its first op other than 'none'."""
        missing = [e for e in state.undecided() if state.active(e)]
        if missing:
            raise ValueError(f"edges not decided yet: {missing}")
        cells: dict[str, list[tuple[str, int]]] = {}
        for ct in CELL_TYPES:
            pairs: list[tuple[str, int]] = []
            for i in range(2, STEPS + 2):
                live = [(e, j) for j in range(i) if state.active(e := edge_id(ct, i, j))]
                if len(live) != 2:
                    raise ValueError(f"{ct} cell node {i} keeps {len(live)} input edges "
                                     f"({[e for e, _ in live]}); the topology phase must leave exactly 2")
                for e, j in live:
                    op = state.decided(e)
                    if state.active(e) != (op,):
                        raise ValueError(f"edge {e} is decided as {op!r} but runs {state.active(e)}")
                strength = {j: 0 if state.decided(e := edge_id(ct, i, j)) in (None, "none") or not state.active(e)
                            else 1 for j in range(i)}
                for j in sorted(sorted(range(i), key=lambda j: -strength[j])[:2]):
                    e = edge_id(ct, i, j)
                    op = state.decided(e) if strength[j] else next(o for o in state.candidates(e) if o != "none")
                    pairs.append((op, j))  # type: ignore[arg-type]
            cells[ct] = pairs
        return DartsGenotype(cells["normal"], list(DEFAULT_CONCAT), cells["reduce"], list(DEFAULT_CONCAT))

    def state_from_genotype(self, genotype: DartsGenotype) -> ArchState:
        """The 2 kept input edges of every node decided with the genotype's ops; the other edges removed
        (active set empty). A genotype this state cannot hold (an op outside an edge's candidates, an input
        taken twice, another concat or node count) is a GenotypeError naming the defect."""
        if not isinstance(genotype, DartsGenotype):
            raise GenotypeError(f"expected a DartsGenotype, got {type(genotype).__name__}")
        if genotype.steps != STEPS:
            raise GenotypeError(f"the {self.name} space has {STEPS} nodes per cell, the genotype {genotype.steps}")
        state = self.new_state()
        for e in state.edge_ids():
            state.set_active(e, ())
        for ct in CELL_TYPES:
            if list(getattr(genotype, f"{ct}_concat")) != list(DEFAULT_CONCAT):
                raise GenotypeError(f"the {self.name} space concatenates nodes {list(DEFAULT_CONCAT)}, the genotype's "
                                    f"{ct} cell {getattr(genotype, f'{ct}_concat')}")
            for k, (op, j) in enumerate(getattr(genotype, ct)):
                e = edge_id(ct, 2 + k // 2, j)
                if state.active(e):
                    raise GenotypeError(f"{ct} cell node {2 + k // 2} takes input {j} twice; the {self.name} space "
                                        "holds one op per edge")
                if op not in state.candidates(e):
                    raise GenotypeError(f"op {op!r} is not a candidate of edge {e} in the {self.name} space "
                                        f"(candidates: {', '.join(state.candidates(e))})")
                state.set_active(e, state.candidates(e))
                state.decide(e, op)
        return state

    def build_network(self, genotype: DartsGenotype, cfg: NetConfig) -> nn.Module:
        """NetworkCIFAR, or NetworkImageNet for inputs larger than 64 pixels (C=16, 8 cells by default)."""
        if not isinstance(genotype, DartsGenotype):
            raise GenotypeError(f"expected a DartsGenotype, got {type(genotype).__name__}")
        cls = NetworkImageNet if cfg.input_size >= IMAGENET_MIN_INPUT else NetworkCIFAR
        return cls(cfg.channels or 16, cfg.num_classes, cfg.cells or 8, cfg.auxiliary, genotype)

    def parse_genotype(self, text: str) -> DartsGenotype:
        return parse_darts_genotype(text)

    def format_genotype(self, genotype: DartsGenotype) -> str:
        return format_darts_genotype(genotype)

    def genotype_to_json(self, genotype: DartsGenotype) -> Any:
        return darts_genotype_to_json(genotype)

    def genotype_from_json(self, data: Any) -> DartsGenotype:
        return darts_genotype_from_json(data)
