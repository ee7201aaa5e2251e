"""Module families the engine treats alike wherever it looks inside a network (one definition each)."""
from __future__ import annotations

from torch import nn

# BatchNorm layers: scoring modes switch their statistics, grouped evaluation splits them per group
BN_TYPES: tuple[type[nn.Module], ...] = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)

# ReLU-family activations: nwot codes their inputs (Mellor et al. 2021, eq. 1)
RELU_TYPES: tuple[type[nn.Module], ...] = (nn.ReLU, nn.ReLU6)
