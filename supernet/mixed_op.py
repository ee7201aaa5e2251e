"""The mixed op: executes only the active ops of its edge and mixes them by the configured rule."""
from __future__ import annotations

from typing import Mapping

import torch
from torch import nn

from .arch_state import ArchState
from .grouped import Grouping
from .mixing import MIXING
from .ops import Zero


def is_zero_op(module: nn.Module) -> bool:
    """The 'none' op outputs zeros: it counts in the mixing weights but is never executed."""
    return isinstance(module, Zero)


class MixedOp(nn.Module):
    """One edge of a supernet; reads `state` on every forward (no copies, no per-eval rebuilding)."""

    def __init__(self, edge: str, ops: Mapping[str, nn.Module], state: ArchState, mixing: str = "uniform",
                 alphas: Mapping[str, torch.Tensor] | None = None) -> None:
        super().__init__()
        self.edge = edge
        self.ops = nn.ModuleDict(dict(ops))
        # plain attributes, not submodules: the state is shared by every cell of a type
        self.__dict__["state"] = state
        self.__dict__["alphas"] = alphas
        self.mixing = mixing
        MIXING.get(mixing)  # fail early on an unknown rule

    def forward(self, x: torch.Tensor) -> torch.Tensor | None:
        """Weighted sum of the active ops' outputs; None when the edge contributes nothing."""
        st = self.state.edges[self.edge]
        grouping = self.state.grouping
        if isinstance(grouping, Grouping) and grouping.touches(self.edge):
            return self._grouped_forward(x, grouping)
        active = st.active
        if not active:
            return None
        if len(active) == 1:  # decided or discretized: the op alone, weight 1
            op = self.ops[active[0]]
            return None if is_zero_op(op) else op(x)
        alpha = self.alphas.get(self.edge) if self.alphas is not None else None
        weights = MIXING.get(self.mixing)(alpha, st.candidates, active)
        linear = self.__dict__.get("linear_ops")  # set while BNs are folded (supernet.folding)
        if linear is not None:
            merged, rest, rest_w = linear.split(x, active, weights)
            if merged is not None:
                return self._add_rest(merged, x, rest, rest_w)
        if all(isinstance(w, float) for w in weights) and len(set(weights)) == 1:
            return self._equal_weight_sum(x, active, weights[0])
        out: torch.Tensor | None = None
        for name, w in zip(active, weights):
            op = self.ops[name]
            if is_zero_op(op):
                continue
            y = op(x) * w
            out = y if out is None else out + y
        return out

    def _grouped_forward(self, x: torch.Tensor, grouping: "Grouping") -> torch.Tensor | None:
        """Grouped evaluation (supernet.grouped): the batch is G groups, group g mixes its own active set.

        An op active in any group runs on the whole batch; its output is weighted per group (weight
        0 where it is removed). Proxies mask the removed op's units per group (nwot does)."""
        alpha = self.alphas.get(self.edge) if self.alphas is not None else None
        weights = grouping.mixing_weights(self.edge, MIXING.get(self.mixing), alpha, x)
        groups = len(grouping)
        out: torch.Tensor | None = None
        for name, w in weights.items():
            op = self.ops[name]
            if is_zero_op(op):
                continue
            y = op(x)
            y = (y.view(groups, -1, *y.shape[1:]) * w.view(groups, *[1] * y.dim())).view(y.shape)
            out = y if out is None else out + y
        return out

    def _add_rest(self, out: torch.Tensor, x: torch.Tensor, names: list[str], weights: list) -> torch.Tensor:
        """`out` (a fresh buffer: the merged linear ops, weighted) plus each other op times its weight, in place."""
        for name, w in zip(names, weights):
            op = self.ops[name]
            if not is_zero_op(op):
                y = op(x)
                out = out.add_(y, alpha=w) if isinstance(w, float) else out.add_(y * w)
        return out

    def _equal_weight_sum(self, x: torch.Tensor, active: tuple[str, ...], w: float) -> torch.Tensor | None:
        """w * sum of the op outputs with one multiply and in-place adds (uniform mixing)."""
        out: torch.Tensor | None = None
        fresh = False  # whether `out` is our own buffer (an op may return its input: skip_connect)
        for name in active:
            op = self.ops[name]
            if is_zero_op(op):
                continue
            y = op(x)
            if out is None:
                out = y
            elif fresh:
                out.add_(y)
            else:
                out, fresh = out + y, True
        if out is None:
            return None
        return out.mul_(w) if fresh else out * w

def sum_inputs(parts: list[torch.Tensor | None], like: torch.Tensor) -> torch.Tensor:
    """Sum of the edge outputs entering a node; zeros shaped like `like` when every edge is off."""
    out: torch.Tensor | None = None
    for p in parts:
        if p is not None:
            out = p if out is None else out + p
    return torch.zeros_like(like) if out is None else out


def op_owners(model: nn.Module, types: tuple[type[nn.Module], ...]) -> dict[nn.Module, tuple[str, str]]:
    """Module of `types` inside a candidate op -> (edge, op name), for per-group masks."""
    owners: dict[nn.Module, tuple[str, str]] = {}
    for m in model.modules():
        if isinstance(m, MixedOp):
            for name, op in m.ops.items():
                for sub in op.modules():
                    if isinstance(sub, types):
                        owners[sub] = (m.edge, name)
    return owners


class SearchLayer(nn.Module):
    """A layer of a layer-wise space (nb-macro, mobilenet) as a supernet layer: the mixed op of its edge,
    which must keep an active op (a layer, unlike a cell edge, cannot contribute nothing)."""

    def __init__(self, op: MixedOp, space: str) -> None:
        super().__init__()
        self.op = op
        self.space = space

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.op(x)
        if y is None:
            raise RuntimeError(f"{self.space} {self.op.edge} has no active op; a layer-wise space cannot drop a layer")
        return y
