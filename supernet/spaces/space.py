"""The search-space contract: edges, candidates, supernet, stand-alone network and genotype I/O."""
from __future__ import annotations

import itertools
import math
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, fields
from typing import Any, ClassVar, Iterator

import numpy as np

from torch import nn

from ..arch_state import ArchState


class GenotypeError(ValueError):
    """A genotype text or JSON that does not describe an architecture of the space."""


class SpaceCapabilityError(ValueError):
    """A space asked for something it does not offer (e.g. no `state_from_genotype`, too large to enumerate)."""


@dataclass(frozen=True)
class SupernetLayout:
    """A search supernet built otherwise than the space's own (the defaults): the layout and ops of TE-NAS's pruning
    supernets, which `search.strategies.tenas_pruning` fills in; spaces read what applies to them."""

    # macro layout of DARTS-like search supernets (None / False: DARTS's own, stem to 3C, reductions at 1/3 and 2/3
    # of the depth, no activation before pooling); TE-NAS's pruning supernet sets all three
    stem_multiplier: int | None = None
    reduce_cells: tuple[int, ...] | None = None
    final_act: bool = False
    # search supernets' ops: BN with affine parameters (TE-NAS's supernets; DARTS and NB201 search without), and
    # BN after DARTS's pooling ops (DARTS's search supernet; TE-NAS's has none)
    affine_ops: bool = False
    pool_bn: bool = True
    # TE-NAS's thin supernet, which counts linear regions on one-channel 3x3 crops: no stem (the input, of C x stem
    # multiplier channels, enters the first cell) and, on NB201, only the first `depth` cells/blocks of the layout
    stem: bool = True
    depth: int | None = None


@dataclass
class NetConfig:
    """Size settings for a built network; spaces read what applies to them."""

    channels: int | None = None
    cells: int | None = None
    num_classes: int = 10
    mixing: str = "uniform"
    auxiliary: bool = False
    input_size: int = 32
    layout: SupernetLayout = SupernetLayout()  # a search supernet's layout and ops other than the space's own

    def to_dict(self) -> dict[str, Any]:
        """The settings flat, the layout's beside the sizes (the `net_config` a supernet checkpoint records)."""
        flat = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "layout"}
        return {**flat, **asdict(self.layout)}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "NetConfig":
        """The NetConfig of `to_dict`'s form (or with the layout nested under "layout")."""
        layout_names = {f.name for f in fields(SupernetLayout)}
        layout = dict(values.get("layout") or {})
        layout.update({k: v for k, v in values.items() if k in layout_names})
        if layout.get("reduce_cells") is not None:
            layout["reduce_cells"] = tuple(layout["reduce_cells"])
        rest = {k: v for k, v in values.items() if k not in layout_names and k != "layout"}
        return cls(**rest, layout=SupernetLayout(**layout))


@dataclass(frozen=True)
class TopologyGroup:
    """A node whose incoming edges are pruned to `keep` in the topology phase (DARTS-like spaces)."""

    node: str
    edges: tuple[str, ...]
    keep: int


class SearchSpace(ABC):
    """A search space; one subclass per module in `supernet.spaces`, registered by name."""

    name: ClassVar[str] = ""  # set by SPACES.register
    # 'none' never enters a genotype (DARTS's and RobustDARTS's parser: inputs ranked and ops chosen without it)
    genotype_without_none: ClassVar[bool] = False
    # whether grouped scoring (`--batched`) is the CUDA default: one forward of G perturbations beats G forwards
    grouped_on_cuda: ClassVar[bool] = True
    text_format: ClassVar[str] = ""  # the genotype text format in words, for messages (empty: not detected)

    @classmethod
    def claims_text(cls, text: str) -> bool:
        """Whether genotype text `text` is written in this space's text format, so that a genotype given without
        its space (opscore train, describe) is read in this one; the first registered space to claim it wins."""
        return False

    @abstractmethod
    def candidates(self) -> dict[str, tuple[str, ...]]:
        """Edge id -> candidate ops, edges in the fixed (input towards output) order."""

    def new_state(self) -> ArchState:
        """A fresh arch state A_0 for this space."""
        return ArchState.from_candidates(self.candidates())

    @abstractmethod
    def build_supernet(self, state: ArchState, cfg: NetConfig) -> nn.Module:
        """The weight-sharing supernet reading `state` on every forward."""

    @abstractmethod
    def genotype_from_state(self, state: ArchState) -> Any:
        """The decided architecture (every edge decided, topology applied)."""

    @abstractmethod
    def build_network(self, genotype: Any, cfg: NetConfig) -> nn.Module:
        """A freshly initialised stand-alone network for `genotype`."""

    @abstractmethod
    def parse_genotype(self, text: str) -> Any:
        """Genotype from the community text format; GenotypeError on malformed input."""

    @abstractmethod
    def format_genotype(self, genotype: Any) -> str:
        """The community text format (e.g. NB201 arch string, DARTS Genotype(...))."""

    def genotype_to_json(self, genotype: Any) -> Any:
        """A JSON-able form; the text format by default."""
        return self.format_genotype(genotype)

    def genotype_from_json(self, data: Any) -> Any:
        """Inverse of `genotype_to_json`."""
        if not isinstance(data, str):
            raise GenotypeError(f"expected a {self.name} genotype string, got {type(data).__name__}")
        return self.parse_genotype(data)

    def topology_groups(self) -> list[TopologyGroup]:
        """Nodes that keep only some of their input edges after the op phase; none by default."""
        return []

    def default_net_config(self, purpose: str) -> NetConfig:
        """Sizes for 'supernet' and 'validation' networks; spaces override."""
        return NetConfig()

    # ------------------------------------------------------------ baselines: sample, mutate, enumerate
    def state_from_genotype(self, genotype: Any) -> ArchState:
        """An arch state with every edge decided as `genotype` says; in spaces with topology groups the
        edges a node does not keep are removed (active set empty, no decision). Spaces implement it."""
        raise SpaceCapabilityError(f"space {self.name!r} does not implement state_from_genotype, so it cannot be "
                                   "sampled, mutated or enumerated; implement it in its module")

    def genotype_ops(self) -> dict[str, tuple[str, ...]]:
        """Edge -> the ops a genotype can hold there: the candidates, less 'none' where genotypes never hold it
        (sampling, mutation, size and enumeration range over genotypes, not over supernet states)."""
        cands = self.candidates()
        if not self.genotype_without_none:
            return cands
        return {e: tuple(o for o in ops if o != "none") or ops for e, ops in cands.items()}

    def _kept_edges(self, rng: np.random.Generator) -> set[str]:
        """Uniformly drawn kept inputs: `keep` edges of every topology group, plus every edge outside groups."""
        grouped = {e for g in self.topology_groups() for e in g.edges}
        kept = {e for e in self.candidates() if e not in grouped}
        for g in self.topology_groups():
            picks = rng.choice(len(g.edges), size=g.keep, replace=False)
            kept.update(g.edges[int(k)] for k in picks)
        return kept

    def sample(self, rng: np.random.Generator) -> Any:
        """A genotype drawn uniformly from the space: kept inputs uniformly per node, then one op per kept
        edge uniformly (every genotype has probability 1/size())."""
        kept = self._kept_edges(rng)
        ops = self.genotype_ops()
        state = self.new_state()
        for e in state.edge_ids():
            if e in kept:
                cands = ops[e]
                state.decide(e, cands[int(rng.integers(len(cands)))])
            else:
                state.set_active(e, ())
        return self.genotype_from_state(state)

    def neighbours(self, genotype: Any) -> list[tuple[str, str, str]]:
        """Every single-decision change of `genotype`: ('op', edge, new op) for a kept edge, and
        ('swap', kept edge, unkept edge) for a node of a topology group that swaps one input for another."""
        state = self.state_from_genotype(genotype)
        ops = self.genotype_ops()
        moves = [("op", e, o) for e in state.edge_ids() if state.active(e)
                 for o in ops[e] if o != state.decided(e)]
        for g in self.topology_groups():
            kept = [e for e in g.edges if state.active(e)]
            moves += [("swap", k, u) for k in kept for u in g.edges if u not in kept]
        return moves

    def apply_move(self, genotype: Any, move: tuple[str, str, str], rng: np.random.Generator) -> Any:
        """`genotype` with one move of `neighbours`: an op swap keeps the dropped edge's op on the new input when
        that op is among its candidates, otherwise a uniformly drawn candidate."""
        state = self.state_from_genotype(genotype)
        kind, a, b = move
        if kind == "op":
            state.set_active(a, state.candidates(a))
            state.decide(a, b)
        else:
            op = state.decided(a)
            state.set_active(a, ())
            state.edges[a].decided = None
            cands = self.genotype_ops()[b]
            state.set_active(b, state.candidates(b))
            state.decide(b, op if op in cands else cands[int(rng.integers(len(cands)))])
        return self.genotype_from_state(state)

    def mutate(self, genotype: Any, rng: np.random.Generator) -> Any:
        """A neighbour of `genotype` drawn uniformly from `neighbours` (exactly one decision changed; Real et al.
        2019 mutate one op or one input); the genotype itself when it has no neighbour."""
        moves = self.neighbours(genotype)
        if not moves:
            return genotype
        return self.apply_move(genotype, moves[int(rng.integers(len(moves)))], rng)

    def size(self) -> int:
        """The number of genotypes: op choices of the always-kept edges times, per topology group, the sum over
        its kept input sets of their op choices."""
        cands = self.genotype_ops()
        grouped = {e for g in self.topology_groups() for e in g.edges}
        total = math.prod(len(cands[e]) for e in cands if e not in grouped)
        for g in self.topology_groups():
            total *= sum(math.prod(len(cands[e]) for e in combo) for combo in itertools.combinations(g.edges, g.keep))
        return total

    def enumerate_genotypes(self, limit: int = 100_000) -> Iterator[Any]:
        """Every genotype once (spaces of at most `limit` genotypes; larger ones are a SpaceCapabilityError)."""
        if self.size() > limit:
            raise SpaceCapabilityError(f"space {self.name!r} has {self.size():,} genotypes, more than {limit:,} to "
                                       "enumerate; sample it instead")
        cands, full = self.genotype_ops(), self.candidates()
        groups = self.topology_groups()
        grouped = {e for g in groups for e in g.edges}
        for kept_sets in itertools.product(*(itertools.combinations(g.edges, g.keep) for g in groups)):
            kept = {e for e in cands if e not in grouped} | {e for ks in kept_sets for e in ks}
            order = [e for e in cands if e in kept]
            for ops in itertools.product(*(cands[e] for e in order)):
                state = self.new_state()
                for e in cands:
                    state.set_active(e, ())
                for e, o in zip(order, ops):
                    state.set_active(e, full[e])
                    state.decide(e, o)
                yield self.genotype_from_state(state)
