"""The DARTS search supernet (Liu et al. 2019, Section 2.1): every cell edge is a mixed op.

Normal and reduce cells each read their own edges of the arch state (`normal:i<-j`, `reduce:i<-j`),
shared by every cell of that type. Stem conv3x3 to 3C + BN, `layers` cells with reductions at
layers//3 and 2*layers//3, global pooling, linear; ops use BN(affine=False), pools are followed by BN.
The stem width, the reduction cells, a BN + ReLU before pooling, affine BN and bare pools can be set: TE-NAS
prunes a supernet of stem C, a normal and a reduce cell, that head (VITA-Group/TENAS, search_model_darts_nasnet.py,
depth 2) and those ops (cell_operations.py), and counts linear regions on a copy without stem (use_stem False).
"""
from __future__ import annotations

from typing import Collection, Mapping

import torch
from torch import nn

from ..arch_state import ArchState
from ..mixed_op import MixedOp
from ..ops import ReLUCache
from .darts_genotype import STEPS, edge_id, node_inputs
from .darts_networks import reduction_layers
from .darts_ops import preprocess, search_op


class SearchCell(nn.Module):
    """Node i = sum over j < i of mixed_op(i<-j)(node j); output = concat of the intermediate nodes."""

    def __init__(self, state: ArchState, cell_type: str, c_prev_prev: int, c_prev: int, c: int,
                 reduction_prev: bool, mixing: str, alphas: Mapping[str, torch.Tensor] | None,
                 affine: bool = False, pool_bn: bool = True) -> None:
        super().__init__()
        self.reduction = cell_type == "reduce"
        self.preprocess0 = preprocess(c_prev_prev, c, reduction_prev, affine=affine)
        self.preprocess1 = preprocess(c_prev, c, False, affine=affine)
        self.relu_cache = ReLUCache()  # the ops leaving a node rectify its output once per forward
        edges = {}
        for i, j in node_inputs(STEPS):
            e = edge_id(cell_type, i, j)
            stride = 2 if self.reduction and j < 2 else 1
            ops = {o: search_op(o, c, stride, self.relu_cache, affine, pool_bn) for o in state.candidates(e)}
            edges[f"{i}_{j}"] = MixedOp(e, ops, state, mixing, alphas)
        self.edges = nn.ModuleDict(edges)
        self.channels = c

    def forward(self, s0: torch.Tensor, s1: torch.Tensor) -> torch.Tensor:
        with self.relu_cache.scope():
            states = [self.preprocess0(s0), self.preprocess1(s1)]
            for i in range(2, STEPS + 2):
                node: torch.Tensor | None = None
                for j in range(i):
                    y = self.edges[f"{i}_{j}"](states[j])
                    if y is not None:
                        node = y if node is None else node + y
                states.append(node if node is not None else self._zeros(states[1]))
            return torch.cat(states[2:], dim=1)

    def _zeros(self, like: torch.Tensor) -> torch.Tensor:
        """A node every input of which is switched off: zeros of the node's shape."""
        if not self.reduction:
            return torch.zeros_like(like)
        b, c, h, w = like.shape
        return like.new_zeros(b, c, (h + 1) // 2, (w + 1) // 2)


class DartsSupernet(nn.Module):
    """Stem, `layers` search cells (two types), [BN + ReLU,] global pooling, linear classifier."""

    def __init__(self, state: ArchState, channels: int, layers: int, num_classes: int, mixing: str,
                 stem_multiplier: int = 3, reduce_cells: Collection[int] | None = None,
                 final_act: bool = False, affine: bool = False, pool_bn: bool = True, stem: bool = True) -> None:
        super().__init__()
        reduce_at = reduction_layers(layers) if reduce_cells is None else set(reduce_cells)
        if stem_multiplier < 1 or not reduce_at <= set(range(layers)):
            raise ValueError(f"a DARTS supernet of {layers} cells needs a stem multiplier of at least 1 and reduction "
                             f"cells among 0..{layers - 1}, got {stem_multiplier} and {sorted(reduce_at)}")
        c_stem = stem_multiplier * channels
        self.stem = nn.Sequential(nn.Conv2d(3, c_stem, 3, padding=1, bias=False), nn.BatchNorm2d(c_stem)) \
            if stem else nn.Identity()  # without: a c_stem-channel input enters the first cell (TE-NAS's thin net)
        alphas = state.alphas
        c_pp, c_p, c = c_stem, c_stem, channels
        reduction_prev = False
        cells = []
        for i in range(layers):
            reduction = i in reduce_at
            if reduction:
                c *= 2
            cells.append(SearchCell(state, "reduce" if reduction else "normal", c_pp, c_p, c, reduction_prev,
                                    mixing, alphas, affine, pool_bn))
            reduction_prev = reduction
            c_pp, c_p = c_p, STEPS * c
        self.cells = nn.ModuleList(cells)
        self.lastact = nn.Sequential(nn.BatchNorm2d(c_p), nn.ReLU()) if final_act else nn.Identity()
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_p, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s0 = s1 = self.stem(x)
        for cell in self.cells:
            s0, s1 = s1, cell(s0, s1)
        return self.classifier(self.global_pooling(self.lastact(s1)).flatten(1))
