"""NAS-Bench-201: 4-node cell with 6 edges and 5 ops, 3 stages of cells joined by residual blocks."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Mapping

import torch
from torch import nn

from ..arch_state import ArchState
from ..mixed_op import MixedOp, sum_inputs
from ..ops import ReLUCache, ResNetBasicBlock, nb201_op
from .space import GenotypeError, NetConfig, SearchSpace
from . import SPACES

NB201_OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
NB201_EDGES = ("1<-0", "2<-0", "2<-1", "3<-0", "3<-1", "3<-2")
_NODE_RE = re.compile(r"^([a-z_0-9x]+)~(\d+)$")


@dataclass(frozen=True)
class NB201Genotype:
    """One op per edge, in NB201_EDGES order."""

    ops: tuple[str, ...]

    def arch_str(self) -> str:
        """`|op~0|+|op~0|op~1|+|op~0|op~1|op~2|`."""
        o = self.ops
        return f"|{o[0]}~0|+|{o[1]}~0|{o[2]}~1|+|{o[3]}~0|{o[4]}~1|{o[5]}~2|"

    def __str__(self) -> str:
        return self.arch_str()


def parse_arch_str(text: str) -> NB201Genotype:
    """Parse an NB201 arch string; every defect is reported in one line."""
    s = text.strip()
    nodes = s.split("+")
    if len(nodes) != 3:
        raise GenotypeError(f"NB201 arch string must have 3 nodes separated by '+', got {len(nodes)}: {text!r}")
    ops: list[str] = []
    for i, node in enumerate(nodes, start=1):
        if not (node.startswith("|") and node.endswith("|")) or len(node) < 2:
            raise GenotypeError(f"NB201 node {i} must be written |op~j|...|, got {node!r} in {text!r}")
        parts = node[1:-1].split("|")
        if len(parts) != i:
            raise GenotypeError(f"NB201 node {i} must have {i} input(s), got {len(parts)} in {text!r}")
        for j, part in enumerate(parts):
            m = _NODE_RE.match(part)
            if not m:
                raise GenotypeError(f"malformed NB201 edge {part!r} (expected op~input) in {text!r}")
            op, src = m.group(1), int(m.group(2))
            if op not in NB201_OPS:
                raise GenotypeError(f"unknown NB201 op {op!r} in {text!r}; ops are {', '.join(NB201_OPS)}")
            if src != j:
                raise GenotypeError(f"NB201 node {i} input {j} is written ~{src} in {text!r}")
            ops.append(op)
    return NB201Genotype(tuple(ops))


class _Cell(nn.Module):
    """Cell; node i = sum over j<i of edge(i<-j)(node j); output node 3. ReLUs of one node are shared."""

    def __init__(self, make_edge: Callable[[str, ReLUCache], nn.Module]) -> None:
        super().__init__()
        self.relu_cache = ReLUCache()
        self.edges = nn.ModuleDict({e.replace("<-", "_"): make_edge(e, self.relu_cache) for e in NB201_EDGES})

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        with self.relu_cache.scope():
            for i in range(1, 4):
                parts = [self.edges[f"{i}_{j}"](nodes[j]) for j in range(i)]
                nodes.append(sum_inputs(parts, x))
        return nodes[3]


class _FixedEdge(nn.Module):
    """A stand-alone edge: one op, or nothing for 'none'."""

    def __init__(self, op: str, channels: int, relu_cache: ReLUCache) -> None:
        super().__init__()
        self.op = None if op == "none" else nb201_op(op, channels, affine=True, relu_cache=relu_cache)

    def forward(self, x: torch.Tensor) -> torch.Tensor | None:
        return None if self.op is None else self.op(x)


class NB201Network(nn.Module):
    """Stem conv3x3+BN, 3 stages of `cells` cells (C, 2C, 4C) joined by residual blocks, BN-ReLU, GAP, linear.
    Without `stem` a C-channel input enters the first cell; `depth` keeps the first cells/blocks only (TE-NAS's
    thin supernet: no stem, depth 1)."""

    def __init__(self, make_cell: Callable[[int], nn.Module], channels: int, cells: int, num_classes: int,
                 stem: bool = True, depth: int | None = None) -> None:
        super().__init__()
        if depth is not None and depth < 1:
            raise ValueError(f"an NB201 network keeps at least 1 cell, got depth {depth}")
        self.stem = nn.Sequential(nn.Conv2d(3, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels)) \
            if stem else nn.Identity()
        plan = [(s, k) for s in range(3) for k in range(-1 if s else 0, cells)]  # k = -1: the stage's residual block
        layers: list[nn.Module] = []
        c = channels
        for _, k in plan[:depth]:
            if k < 0:
                layers.append(ResNetBasicBlock(c, 2 * c, 2))
                c *= 2
            else:
                layers.append(make_cell(c))
        self.cells = nn.Sequential(*layers)
        self.lastact = nn.Sequential(nn.BatchNorm2d(c), nn.ReLU(inplace=False))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.lastact(self.cells(self.stem(x)))
        return self.classifier(self.pool(y).flatten(1))


@SPACES.register("nb201")
class NB201Space(SearchSpace):
    """NAS-Bench-201 (Dong & Yang 2020)."""

    text_format = "an NB201 arch string |op~0|+|op~0|op~1|+|op~0|op~1|op~2|"

    @classmethod
    def claims_text(cls, text: str) -> bool:
        s = text.strip()
        return s.startswith("|") and "~" in s

    def candidates(self) -> dict[str, tuple[str, ...]]:
        return {e: NB201_OPS for e in NB201_EDGES}

    def default_net_config(self, purpose: str) -> NetConfig:
        return NetConfig(channels=16, cells=5)

    def build_supernet(self, state: ArchState, cfg: NetConfig) -> nn.Module:
        """Search cells with BN(affine=False) ops, as in the NB201 search model (`layout.affine_ops`: TE-NAS's, affine)."""
        alphas: Mapping[str, torch.Tensor] | None = state.alphas

        def make_cell(c: int) -> nn.Module:
            return _Cell(lambda e, cache: MixedOp(
                e, {o: nb201_op(o, c, affine=cfg.layout.affine_ops, relu_cache=cache) for o in state.candidates(e)}, state,
                cfg.mixing, alphas))

        return NB201Network(make_cell, cfg.channels or 16, cfg.cells or 5, cfg.num_classes, cfg.layout.stem,
                            cfg.layout.depth)

    def genotype_from_state(self, state: ArchState) -> NB201Genotype:
        missing = state.undecided()
        if missing:
            raise ValueError(f"edges not decided yet: {missing}")
        return NB201Genotype(tuple(state.decided(e) for e in NB201_EDGES))  # type: ignore[misc]

    def state_from_genotype(self, genotype: NB201Genotype) -> ArchState:
        """Every edge decided as the genotype says."""
        state = self.new_state()
        for e, op in zip(NB201_EDGES, genotype.ops):
            state.decide(e, op)
        return state

    def build_network(self, genotype: NB201Genotype, cfg: NetConfig) -> nn.Module:
        ops = dict(zip(NB201_EDGES, genotype.ops))

        def make_cell(c: int) -> nn.Module:
            return _Cell(lambda e, cache: _FixedEdge(ops[e], c, cache))

        return NB201Network(make_cell, cfg.channels or 16, cfg.cells or 5, cfg.num_classes)

    def parse_genotype(self, text: str) -> NB201Genotype:
        return parse_arch_str(text)

    def format_genotype(self, genotype: NB201Genotype) -> str:
        return genotype.arch_str()
