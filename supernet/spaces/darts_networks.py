"""Stand-alone DARTS networks built from a genotype (Liu et al. 2019, Section 3.3 and Appendix A.2).

NetworkCIFAR: 3x3 conv stem to 3C, `layers` cells with reduction cells at layers//3 and 2*layers//3
(channels double there), global pooling, linear; optional auxiliary head after cell 2*layers//3.
NetworkImageNet: two strided stems (input /8) instead. Drop-path (scheduled by the trainer through
`drop_path_prob`) acts only in training mode and never on identity ops, as in DARTS.
"""
from __future__ import annotations

import torch
from torch import nn

from .darts_genotype import DartsGenotype
from .darts_ops import darts_op, is_identity, preprocess


def drop_path(x: torch.Tensor, drop_prob: float) -> torch.Tensor:
    """Zero whole samples with probability `drop_prob`, rescale the rest by 1/(1-p) (FractalNet)."""
    keep = 1.0 - drop_prob
    mask = torch.empty(x.shape[0], 1, 1, 1, dtype=x.dtype, device=x.device).bernoulli_(keep)
    return x / keep * mask


class GenotypeCell(nn.Module):
    """A fixed cell: node i = op_a(node j_a) + op_b(node j_b); output = concat of `concat` nodes."""

    def __init__(self, genotype: DartsGenotype, c_prev_prev: int, c_prev: int, c: int, reduction: bool,
                 reduction_prev: bool) -> None:
        super().__init__()
        self.reduction = reduction
        self.preprocess0 = preprocess(c_prev_prev, c, reduction_prev, affine=True)
        self.preprocess1 = preprocess(c_prev, c, False, affine=True)
        pairs = genotype.reduce if reduction else genotype.normal
        self.concat = list(genotype.reduce_concat if reduction else genotype.normal_concat)
        self.multiplier = len(self.concat)
        self.indices = [j for _, j in pairs]
        self.ops = nn.ModuleList(darts_op(op, c, 2 if reduction and j < 2 else 1, affine=True) for op, j in pairs)

    def forward(self, s0: torch.Tensor, s1: torch.Tensor, drop_prob: float) -> torch.Tensor:
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        for k in range(len(self.ops) // 2):
            node = None
            for m in (2 * k, 2 * k + 1):
                op = self.ops[m]
                h = op(states[self.indices[m]])
                if self.training and drop_prob > 0.0 and not is_identity(op):
                    h = drop_path(h, drop_prob)
                node = h if node is None else node + h
            states.append(node)  # type: ignore[arg-type]
        return torch.cat([states[i] for i in self.concat], dim=1)


class AuxiliaryHeadCIFAR(nn.Module):
    """Auxiliary classifier on the 8x8 feature map after cell 2*layers//3 (DARTS / NASNet)."""

    def __init__(self, c: int, num_classes: int) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.ReLU(inplace=False),
            nn.AvgPool2d(5, stride=3, padding=0, count_include_pad=False),  # 8x8 -> 2x2
            nn.Conv2d(c, 128, 1, bias=False), nn.BatchNorm2d(128), nn.ReLU(inplace=False),
            nn.Conv2d(128, 768, 2, bias=False), nn.BatchNorm2d(768), nn.ReLU(inplace=False),
        )
        self.classifier = nn.Linear(768, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).flatten(1))


class AuxiliaryHeadImageNet(nn.Module):
    """Auxiliary classifier on the 7x7 map (DARTS: no BN after the 2x2 conv, as in its experiments)."""

    def __init__(self, c: int, num_classes: int) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.ReLU(inplace=False),
            nn.AvgPool2d(5, stride=2, padding=0, count_include_pad=False),  # 7x7 -> 2x2
            nn.Conv2d(c, 128, 1, bias=False), nn.BatchNorm2d(128), nn.ReLU(inplace=False),
            nn.Conv2d(128, 768, 2, bias=False), nn.ReLU(inplace=False),
        )
        self.classifier = nn.Linear(768, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).flatten(1))


def reduction_layers(layers: int) -> set[int]:
    """Indices of the reduction cells: 1/3 and 2/3 of the depth."""
    return {layers // 3, 2 * layers // 3}


class _DartsNetwork(nn.Module):
    """Cells stacked after a stem; the subclasses provide the stem and the auxiliary head."""

    drop_path_prob: float

    def _build_cells(self, genotype: DartsGenotype, c: int, layers: int, c_stem: int, reduction_prev: bool,
                     auxiliary: bool, num_classes: int, aux_head: type[nn.Module]) -> None:
        self._layers = layers
        self._auxiliary = auxiliary
        self.drop_path_prob = 0.0
        c_pp, c_p, c_cur = c_stem, c_stem, c
        cells = []
        c_aux = c_p
        for i in range(layers):
            reduction = i in reduction_layers(layers)
            if reduction:
                c_cur *= 2
            cell = GenotypeCell(genotype, c_pp, c_p, c_cur, reduction, reduction_prev)
            cells.append(cell)
            reduction_prev = reduction
            c_pp, c_p = c_p, cell.multiplier * c_cur
            if i == 2 * layers // 3:
                c_aux = c_p
        self.cells = nn.ModuleList(cells)
        if auxiliary:
            self.auxiliary_head = aux_head(c_aux, num_classes)
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_p, num_classes)

    def _stem(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Logits; in training mode with the auxiliary head, (logits, auxiliary logits)."""
        s0, s1 = self._stem(x)
        aux = None
        for i, cell in enumerate(self.cells):
            s0, s1 = s1, cell(s0, s1, self.drop_path_prob)
            if i == 2 * self._layers // 3 and self._auxiliary and self.training:
                aux = self.auxiliary_head(s1)
        logits = self.classifier(self.global_pooling(s1).flatten(1))
        return (logits, aux) if aux is not None else logits


class NetworkCIFAR(_DartsNetwork):
    """DARTS CIFAR network: stem conv3x3 (3C) + BN, cells, global pooling, linear."""

    def __init__(self, C: int, num_classes: int, layers: int, auxiliary: bool, genotype: DartsGenotype) -> None:
        super().__init__()
        c_stem = 3 * C
        self.stem = nn.Sequential(nn.Conv2d(3, c_stem, 3, padding=1, bias=False), nn.BatchNorm2d(c_stem))
        self._build_cells(genotype, C, layers, c_stem, False, auxiliary, num_classes, AuxiliaryHeadCIFAR)

    def _stem(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        s = self.stem(x)
        return s, s


class NetworkImageNet(_DartsNetwork):
    """DARTS ImageNet network: two stride-2 stems then a third (input /8), cells, global pooling, linear."""

    def __init__(self, C: int, num_classes: int, layers: int, auxiliary: bool, genotype: DartsGenotype) -> None:
        super().__init__()
        self.stem0 = nn.Sequential(
            nn.Conv2d(3, C // 2, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(C // 2), nn.ReLU(inplace=False),
            nn.Conv2d(C // 2, C, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(C),
        )
        self.stem1 = nn.Sequential(nn.ReLU(inplace=False), nn.Conv2d(C, C, 3, stride=2, padding=1, bias=False),
                                   nn.BatchNorm2d(C))
        self._build_cells(genotype, C, layers, C, True, auxiliary, num_classes, AuxiliaryHeadImageNet)

    def _stem(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        s0 = self.stem0(x)
        return s0, self.stem1(s0)
