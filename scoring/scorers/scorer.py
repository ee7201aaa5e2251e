"""Operation scorer contract: (supernet, arch state, edge, op, data) -> score, plus a direction."""
from __future__ import annotations

from abc import ABC, abstractmethod
from contextlib import contextmanager
from dataclasses import KW_ONLY, dataclass
from typing import Any, ClassVar, Iterator

import torch
from torch import nn

from runtime.settings import NoOptions, plugin_settings
from supernet.arch_state import ArchState
from supernet.grouped import Variant
from supernet.registry import Registry
from supernet.spaces.space import SearchSpace

from ..proxies.proxy import Proxy
from ..trained import TrainedSupernet

Batch = tuple[torch.Tensor, torch.Tensor]


@dataclass
class ScoringContext:
    """What a scorer may use: the space, the supernet, its arch state, a proxy, and its settings."""

    space: SearchSpace
    supernet: nn.Module
    state: ArchState
    proxy: Proxy | None = None
    _: KW_ONLY
    batched: bool = False  # score all ops of an edge in one grouped forward where scorer and proxy can
    trained: TrainedSupernet | None = None  # darts-alpha, darts-pt, disc-acc: the trained supernet (--supernet)


class OperationScorer(ABC):
    """Scores candidate ops of an edge; `direction` says whether the argmax or argmin is kept."""

    name: ClassVar[str] = ""
    direction: ClassVar[str] = "max"
    topology_direction: ClassVar[str] = "min"  # direction of score_edge_removal (the topology phase)
    supports_groups: ClassVar[bool] = False  # scores an edge's ops in one grouped forward (see `variant`)
    Settings: ClassVar[type] = NoOptions  # the scorer's own options (flags, YAML keys)

    def __init__(self, ctx: ScoringContext, **options: Any) -> None:
        self.ctx = ctx
        self.settings: Any = plugin_settings(self.Settings, options, f"scorer {self.name!r}")
        self.evaluations = 0  # forwards of an edited supernet (Table 5's perturbation count)

    @contextmanager
    def session(self) -> Iterator["OperationScorer"]:
        """Attach once per proposal stage (hooks, modes); restore on exit."""
        yield self

    @abstractmethod
    def score_op(self, edge: str, op: str, batch: Batch) -> float:
        """Raw score of (edge, op) on the current arch state."""

    def score_edge(self, edge: str, batch: Batch) -> dict[str, float]:
        """Raw scores of every active op of `edge`."""
        return {op: self.score_op(edge, op, batch) for op in self.ctx.state.active(edge)}

    def variant(self, edge: str, op: str) -> Variant:
        """The edited active set of `edge` scored for `op`, for grouped evaluation (supernet.grouped)."""
        raise NotImplementedError(f"scorer {self.name!r} cannot score grouped variants (supports_groups is False)")

    def score_edge_removal(self, edge: str, batch: Batch) -> float:
        """Raw score of the supernet with the whole `edge` removed (topology phase)."""
        raise NotImplementedError(f"scorer {self.name!r} cannot score topology")

    @property
    def replayable(self) -> bool:
        """Whether scores depend only on the arch state, the minibatch and the RNG (nothing changes
        between decisions), so an interrupted proposal iteration can resume from its recorded scores."""
        return type(self).after_decision is OperationScorer.after_decision

    def after_decision(self, edge: str, op: str) -> None:
        """Called once `op` is committed on `edge` (darts-pt fine-tunes the supernet here); no-op by default."""

    def after_topology(self, node: str, last: bool) -> None:
        """Called once `node`'s input edges are pruned (`last`: no decision follows); no-op by default."""


class ScorerSetupError(ValueError):
    """A scorer that cannot work with what it was given (e.g. a training-based scorer without --supernet)."""


SCORERS: Registry[type[OperationScorer]] = Registry("scorer")
