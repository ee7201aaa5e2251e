"""Grouped (batched) evaluation: G variants of the arch state scored in one forward.

The batch holds G equal groups (the scoring batch repeated G times) and group g sees variant g, a
set of per-edge active-set overrides (e.g. the G perturbations A-(e,o) of one edge). Everything it
takes lives here: the context that installs the variants on the arch state (the mixed op reads
`state.grouping`), the per-group mixing weights the mixed op applies, per-group BatchNorm
statistics, and the query "is op o of edge e active in group g" with which proxies mask the units
of removed ops. Every other layer of a supernet is per-sample and needs no change, so the per-group
results equal those of one forward per variant.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator, Mapping, Sequence

import torch
from torch import nn

from .arch_state import ArchState, ArchStateError
from .mixing import MixingRule
from .modules import BN_TYPES

Variant = dict[str, tuple[str, ...]]  # edge -> the active set group g sees (other edges: the state's)


def removal(state: ArchState, edge: str, op: str) -> Variant:
    """The variant A-(e,o): `op` removed from `edge`'s active set."""
    active = state.active(edge)
    if op not in active:
        raise ArchStateError(f"op {op!r} is not active on edge {edge!r} (active: {active})")
    return {edge: tuple(o for o in active if o != op)}


def discretization(edge: str, op: str) -> Variant:
    """The variant A+(e,o): only `op` stays on `edge`."""
    return {edge: (op,)}


class Grouping:
    """The G variants of one grouped forward, over the arch state they edit (installed by `grouped`)."""

    def __init__(self, state: ArchState, variants: Sequence[Variant]) -> None:
        self.state = state
        self.variants = list(variants)

    def __len__(self) -> int:
        return len(self.variants)

    def touches(self, edge: str) -> bool:
        """Whether some group sees `edge` with an active set of its own (its mixed op mixes per group)."""
        return any(edge in v for v in self.variants)

    def active_sets(self, edge: str) -> list[tuple[str, ...]]:
        """The active set of `edge` in each group."""
        base = self.state.active(edge)
        return [v.get(edge, base) for v in self.variants]

    def op_active(self, edge: str, op: str) -> list[bool]:
        """Per group, whether `op` of `edge` runs in that group (proxies mask a removed op's units)."""
        return [op in a for a in self.active_sets(edge)]

    def mixing_weights(self, edge: str, rule: MixingRule, alpha: torch.Tensor | None,
                       like: torch.Tensor) -> dict[str, torch.Tensor]:
        """Per-group mixing weight (shape (G,), 0 where removed) of every op of `edge` active in some
        group, in candidate order; a group with a single active op gives it weight 1."""
        candidates = self.state.candidates(edge)
        per_group: list[dict[str, float | torch.Tensor]] = []
        for active in self.active_sets(edge):
            if len(active) == 1:
                per_group.append({active[0]: 1.0})
            else:
                per_group.append(dict(zip(active, rule(alpha, candidates, active))) if active else {})
        return {name: torch.stack([torch.as_tensor(g.get(name, 0.0), dtype=like.dtype, device=like.device)
                                   for g in per_group])
                for name in candidates if any(name in g for g in per_group)}

    def repeat(self, inputs: torch.Tensor) -> torch.Tensor:
        """The scoring batch repeated once per group, in the input's memory format (NHWC stays NHWC)."""
        fmt = torch.channels_last if inputs.dim() == 4 and not inputs.is_contiguous() \
            and inputs.is_contiguous(memory_format=torch.channels_last) else torch.contiguous_format
        return inputs.repeat(len(self), *[1] * (inputs.dim() - 1)).contiguous(memory_format=fmt)

    def forward(self, model: nn.Module, inputs: torch.Tensor) -> torch.Tensor:
        """`model` on the repeated batch, every BatchNorm with per-group batch statistics."""
        with grouped_batch_norm(model, len(self)):
            return model(self.repeat(inputs))


@contextmanager
def grouped(state: ArchState, variants: Sequence[Mapping[str, Sequence[str]]]) -> Iterator[Grouping]:
    """Install G variants on `state` for the block; each may only narrow active sets. Yields the Grouping."""
    if state.grouping is not None:
        raise ArchStateError("grouped evaluations do not nest")
    checked = []
    for v in variants:
        row: Variant = {}
        for e, ops in v.items():
            active, candidates = state.active(e), state.candidates(e)
            if not set(ops) <= set(active):
                raise ArchStateError(f"group variant activates inactive ops on {e!r}: {ops}")
            row[e] = tuple(o for o in candidates if o in set(ops))
        checked.append(row)
    grouping = Grouping(state, checked)
    state.grouping = grouping
    try:
        yield grouping
    finally:
        state.grouping = None


def _grouped_bn(m: nn.modules.batchnorm._BatchNorm, groups: int):
    """forward(x) normalising each of the `groups` batch groups with its own statistics (no buffer update)."""

    def forward(x: torch.Tensor) -> torch.Tensor:
        xs = x.view(groups, x.shape[0] // groups, *x.shape[1:])
        dims = (1,) + tuple(range(3, xs.dim()))
        var, mean = torch.var_mean(xs, dim=dims, unbiased=False, keepdim=True)
        y = (xs - mean) * torch.rsqrt(var + m.eps)
        if m.affine:
            shape = (1, 1, -1) + (1,) * (xs.dim() - 3)
            y = y * m.weight.view(shape) + m.bias.view(shape)
        return y.view(x.shape)

    return forward


@contextmanager
def grouped_batch_norm(model: nn.Module, groups: int) -> Iterator[None]:
    """Per-group batch statistics in every BN layer that normalises with batch statistics (BNs on
    running statistics are per-sample already and stay as they are)."""
    swapped = []
    for m in model.modules():
        if isinstance(m, BN_TYPES) and (m.training or not m.track_running_stats):
            m.forward = _grouped_bn(m, groups)  # instance attribute, removed on exit
            swapped.append(m)
    try:
        yield
    finally:
        for m in swapped:
            del m.forward
