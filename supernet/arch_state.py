"""Arch state: per edge the candidate ops, the still-active ops, the alphas and the decided op.

The supernet reads this object on every forward, so perturb A-(e,o) and discretize A+(e,o)
are cheap edits of plain Python data, exactly reversible through context managers.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator, Mapping, Protocol, Sequence

import torch


class GroupedVariants(Protocol):
    """What the arch state holds while a grouped forward runs (a supernet.grouped.Grouping)."""

    def touches(self, edge: str) -> bool:
        """Whether some group sees `edge` with an active set of its own."""


class ArchStateError(ValueError):
    """An edit that names an unknown edge or op, or would leave an edge without ops."""


@dataclass
class EdgeState:
    """State of one edge: candidates (fixed), active subset (ordered as candidates), decision."""

    candidates: tuple[str, ...]
    active: tuple[str, ...]
    decided: str | None = None

    @property
    def enabled(self) -> bool:
        """An edge with no active op contributes nothing (topology removal)."""
        return bool(self.active)


@dataclass
class ArchState:
    """All edges of a space, in the space's input-to-output order, plus optional alphas."""

    edges: dict[str, EdgeState]
    alphas: dict[str, torch.Tensor] = field(default_factory=dict)
    version: int = 0
    # grouped evaluation in progress (supernet.grouped), read by the mixed ops; None otherwise
    grouping: GroupedVariants | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_candidates(cls, candidates: Mapping[str, Sequence[str]]) -> "ArchState":
        """A fresh state A_0: every candidate active, nothing decided."""
        edges = {e: EdgeState(tuple(ops), tuple(ops)) for e, ops in candidates.items()}
        return cls(edges=edges)

    # ----------------------------------------------------------------- queries
    def edge_ids(self) -> list[str]:
        """Edge ids in the space's order (input towards output)."""
        return list(self.edges)

    def candidates(self, edge: str) -> tuple[str, ...]:
        return self._edge(edge).candidates

    def active(self, edge: str) -> tuple[str, ...]:
        return self._edge(edge).active

    def decided(self, edge: str) -> str | None:
        return self._edge(edge).decided

    def undecided(self) -> list[str]:
        """Edges still to decide, in the space's order."""
        return [e for e, s in self.edges.items() if s.decided is None]

    def is_complete(self) -> bool:
        return all(s.decided is not None for s in self.edges.values())

    def _edge(self, edge: str) -> EdgeState:
        try:
            return self.edges[edge]
        except KeyError:
            raise ArchStateError(f"unknown edge {edge!r}") from None

    def _check_op(self, edge: str, op: str) -> EdgeState:
        st = self._edge(edge)
        if op not in st.active:
            raise ArchStateError(f"op {op!r} is not active on edge {edge!r} (active: {st.active})")
        return st

    # ------------------------------------------------------------ permanent edits
    def set_active(self, edge: str, ops: Sequence[str]) -> None:
        """Set the active set of `edge` (kept in candidate order); the supernet sees it next forward."""
        st = self._edge(edge)
        unknown = set(ops) - set(st.candidates)
        if unknown:
            raise ArchStateError(f"ops {sorted(unknown)} are not candidates of edge {edge!r}")
        st.active = tuple(o for o in st.candidates if o in set(ops))
        self.version += 1

    def remove(self, edge: str, op: str) -> None:
        """Permanent A-(e,o)."""
        st = self._check_op(edge, op)
        if len(st.active) == 1:
            raise ArchStateError(f"removing {op!r} would leave edge {edge!r} without ops")
        self.set_active(edge, [o for o in st.active if o != op])

    def decide(self, edge: str, op: str) -> None:
        """Permanent A+(e,o): keep only `op` on `edge` and record the decision."""
        self._check_op(edge, op)
        self.set_active(edge, [op])
        self._edge(edge).decided = op

    # ------------------------------------------------------- reversible edits
    @contextmanager
    def _saved(self, edge: str) -> Iterator[None]:
        st = self._edge(edge)
        saved = (st.active, st.decided)
        try:
            yield
        finally:
            st.active, st.decided = saved
            self.version += 1

    @contextmanager
    def perturb(self, edge: str, op: str) -> Iterator["ArchState"]:
        """A-(e,o) for the duration of the block: `op` is removed (and never executed)."""
        st = self._check_op(edge, op)
        with self._saved(edge):
            st.active = tuple(o for o in st.active if o != op)
            self.version += 1
            yield self

    @contextmanager
    def discretize(self, edge: str, op: str) -> Iterator["ArchState"]:
        """A+(e,o) for the duration of the block: only `op` stays on `edge`."""
        st = self._check_op(edge, op)
        with self._saved(edge):
            st.active = (op,)
            self.version += 1
            yield self

    @contextmanager
    def without_edge(self, edge: str) -> Iterator["ArchState"]:
        """Remove the whole edge for the block (topology perturbation: it contributes nothing)."""
        st = self._edge(edge)
        with self._saved(edge):
            st.active = ()
            self.version += 1
            yield self

    # ------------------------------------------------------------ persistence
    def snapshot(self) -> dict:
        """A JSON-able copy of the op-level state (alphas excluded; they live in checkpoints)."""
        return {e: {"active": list(s.active), "decided": s.decided} for e, s in self.edges.items()}

    def restore(self, snap: Mapping[str, Mapping]) -> None:
        """Undo everything since `snapshot()` (used to restart each proposal from A_0)."""
        for e, s in snap.items():
            st = self._edge(e)
            st.active = tuple(s["active"])
            st.decided = s["decided"]
        self.version += 1
