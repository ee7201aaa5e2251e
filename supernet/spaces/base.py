"""The search-space contract: edges, candidates, supernet, stand-alone network and genotype I/O."""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

from torch import nn

from ..arch_state import ArchState


class GenotypeError(ValueError):
    """A genotype text or JSON that does not describe an architecture of the space."""


@dataclass
class NetConfig:
    """Size settings for a built network; spaces read what applies to them."""

    channels: int | None = None
    cells: int | None = None
    num_classes: int = 10
    mixing: str = "uniform"
    auxiliary: bool = False
    input_size: int = 32


@dataclass(frozen=True)
class TopologyGroup:
    """A node whose incoming edges are pruned to `keep` in the topology phase (DARTS-like spaces)."""

    node: str
    edges: tuple[str, ...]
    keep: int


class SearchSpace(ABC):
    """A search space; one subclass per module in `supernet.spaces`, registered by name."""

    name: ClassVar[str] = ""  # set by SPACES.register

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
