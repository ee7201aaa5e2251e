"""NAS-Bench-Macro (Su et al. 2021): 8 searchable layers in 3 stages of [2, 3, 3], 3 choices per layer.

Network: stem 3x3 conv to C=32 + BN + ReLU; in each stage the first layer has stride 2 and doubles
the channels (64, 128, 256 for C=32); per layer `0` identity (1x1 conv + BN when the shape
changes), `1` MobileNetV2 inverted residual with expansion 3 and kernel 3, `2` expansion 6 and
kernel 5; head 1x1 conv to 1280 + BN + ReLU, global average pooling, linear. A genotype is the
8-digit string of the choices, e.g. `22102122`; 3^8 = 6,561 architectures.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping

import torch
from torch import nn

from ..arch_state import ArchState
from ..mixed_op import MixedOp, SearchLayer
from ..ops import pixel_grid
from .space import GenotypeError, NetConfig, SearchSpace
from . import SPACES

NB_MACRO_OPS = ("identity", "mb3_k3", "mb6_k5")  # index = the digit of the genotype string
NB_MACRO_STAGES = (2, 3, 3)
NB_MACRO_LAYERS = tuple(f"layer:{i}" for i in range(sum(NB_MACRO_STAGES)))
HEAD_CHANNELS = 1280
_BLOCK = {"mb3_k3": (3, 3), "mb6_k5": (6, 5)}  # op -> (expansion, kernel)


def layer_shapes(channels: int) -> list[tuple[int, int, int]]:
    """(c_in, c_out, stride) of each searchable layer for stem width `channels`."""
    shapes, c = [], channels
    for depth in NB_MACRO_STAGES:
        for i in range(depth):
            if i == 0:
                shapes.append((c, 2 * c, 2))
                c *= 2
            else:
                shapes.append((c, c, 1))
    return shapes


@dataclass(frozen=True)
class NBMacroGenotype:
    """One choice (0, 1 or 2) per searchable layer, input to output."""

    choices: tuple[int, ...]

    def __str__(self) -> str:
        return "".join(str(c) for c in self.choices)

    def ops(self) -> tuple[str, ...]:
        """The op name of each layer."""
        return tuple(NB_MACRO_OPS[c] for c in self.choices)

    def canonical(self) -> "NBMacroGenotype":
        """The benchmark's key: identities after a stage's first layer moved to the stage end.

        A stride-1 identity is the identity function, so moving it does not change the network;
        NAS-Bench-Macro stores each such class of strings once, under this form.
        """
        out: list[int] = []
        pos = 0
        for depth in NB_MACRO_STAGES:
            stage = self.choices[pos:pos + depth]
            rest = [c for c in stage[1:] if c != 0]
            out += [stage[0], *rest, *([0] * (depth - 1 - len(rest)))]
            pos += depth
        return NBMacroGenotype(tuple(out))


def parse_nb_macro(text: str) -> NBMacroGenotype:
    """Parse an 8-digit NB-Macro string; every defect is reported in one line."""
    s = str(text).strip()
    if len(s) != len(NB_MACRO_LAYERS) or not s.isdigit():
        raise GenotypeError(f"an NB-Macro genotype is {len(NB_MACRO_LAYERS)} digits 0-2 (one per layer), "
                            f"e.g. 22102122; got {text!r}")
    bad = [i for i, ch in enumerate(s) if ch not in "012"]
    if bad:
        raise GenotypeError(f"NB-Macro layer {bad[0]} has choice {s[bad[0]]!r}; choices are 0 (identity), "
                            f"1 (MB3_K3), 2 (MB6_K5), in {text!r}")
    return NBMacroGenotype(tuple(int(ch) for ch in s))


class MacroIdentity(nn.Module):
    """Choice 0: the identity, or a 1x1 conv (strided: of the `pixel_grid`) + BN where the layer changes the shape."""

    def __init__(self, c_in: int, c_out: int, stride: int, affine: bool = True) -> None:
        super().__init__()
        self.proj = None
        self.stride = stride
        if stride != 1 or c_in != c_out:
            self.proj = nn.Sequential(nn.Conv2d(c_in, c_out, 1, bias=False), nn.BatchNorm2d(c_out, affine=affine))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.proj is None:
            return x
        return self.proj(pixel_grid(x, self.stride) if self.stride != 1 else x)


class InvertedResidual(nn.Module):
    """MobileNetV2 block (Sandler et al. 2018): 1x1 expand-BN-ReLU, kxk depthwise-BN-ReLU, 1x1-BN, + x if shapes match."""

    def __init__(self, c_in: int, c_out: int, stride: int, expansion: int, kernel: int, affine: bool = True) -> None:
        super().__init__()
        hidden = c_in * expansion
        self.body = nn.Sequential(
            nn.Conv2d(c_in, hidden, 1, bias=False), nn.BatchNorm2d(hidden, affine=affine), nn.ReLU(inplace=False),
            nn.Conv2d(hidden, hidden, kernel, stride=stride, padding=kernel // 2, groups=hidden, bias=False),
            nn.BatchNorm2d(hidden, affine=affine), nn.ReLU(inplace=False),
            nn.Conv2d(hidden, c_out, 1, bias=False), nn.BatchNorm2d(c_out, affine=affine),
        )
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.body(x)
        return y + x if self.residual else y


def nb_macro_op(name: str, c_in: int, c_out: int, stride: int, affine: bool = True) -> nn.Module:
    """Build one NB-Macro choice for a layer of shape (c_in, c_out, stride)."""
    if name == "identity":
        return MacroIdentity(c_in, c_out, stride, affine)
    if name in _BLOCK:
        t, k = _BLOCK[name]
        return InvertedResidual(c_in, c_out, stride, t, k, affine)
    raise ValueError(f"unknown NB-Macro op {name!r}; ops are {', '.join(NB_MACRO_OPS)}")


class NBMacroNetwork(nn.Module):
    """Stem conv3x3-BN-ReLU, the 8 searchable layers, head conv1x1(1280)-BN-ReLU, GAP, linear."""

    def __init__(self, make_layer: Callable[[int, int, int, int], nn.Module], channels: int, num_classes: int) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, channels, 3, padding=1, bias=False),
                                  nn.BatchNorm2d(channels), nn.ReLU(inplace=False))
        shapes = layer_shapes(channels)
        self.layers = nn.Sequential(*(make_layer(i, *s) for i, s in enumerate(shapes)))
        c = shapes[-1][1]
        self.head = nn.Sequential(nn.Conv2d(c, HEAD_CHANNELS, 1, bias=False),
                                  nn.BatchNorm2d(HEAD_CHANNELS), nn.ReLU(inplace=False))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(HEAD_CHANNELS, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.head(self.layers(self.stem(x)))
        return self.classifier(self.pool(y).flatten(1))


@SPACES.register("nb-macro")
class NBMacroSpace(SearchSpace):
    """NAS-Bench-Macro: one edge per searchable layer (`layer:0`..`layer:7`), ops identity/mb3_k3/mb6_k5."""

    text_format = "an NB-Macro 8-digit string such as 22102122"

    @classmethod
    def claims_text(cls, text: str) -> bool:
        return text.strip().isdigit()

    def candidates(self) -> dict[str, tuple[str, ...]]:
        return {e: NB_MACRO_OPS for e in NB_MACRO_LAYERS}

    def default_net_config(self, purpose: str) -> NetConfig:
        return NetConfig(channels=32)

    def build_supernet(self, state: ArchState, cfg: NetConfig) -> nn.Module:
        """One mixed op per layer; BN without affine parameters in the candidate ops, as in search models."""
        alphas: Mapping[str, torch.Tensor] | None = state.alphas

        def make_layer(i: int, c_in: int, c_out: int, stride: int) -> nn.Module:
            edge = NB_MACRO_LAYERS[i]
            ops = {o: nb_macro_op(o, c_in, c_out, stride, affine=False) for o in state.candidates(edge)}
            return SearchLayer(MixedOp(edge, ops, state, cfg.mixing, alphas), "nb-macro")

        return NBMacroNetwork(make_layer, cfg.channels or 32, cfg.num_classes)

    def genotype_from_state(self, state: ArchState) -> NBMacroGenotype:
        missing = state.undecided()
        if missing:
            raise ValueError(f"edges not decided yet: {missing}")
        return NBMacroGenotype(tuple(NB_MACRO_OPS.index(state.decided(e)) for e in NB_MACRO_LAYERS))  # type: ignore[arg-type]

    def state_from_genotype(self, genotype: NBMacroGenotype) -> ArchState:
        """Every layer decided as the genotype's digit says."""
        state = self.new_state()
        for e, op in zip(NB_MACRO_LAYERS, genotype.ops()):
            state.decide(e, op)
        return state

    def build_network(self, genotype: NBMacroGenotype, cfg: NetConfig) -> nn.Module:
        ops = genotype.ops()

        def make_layer(i: int, c_in: int, c_out: int, stride: int) -> nn.Module:
            return nb_macro_op(ops[i], c_in, c_out, stride)

        return NBMacroNetwork(make_layer, cfg.channels or 32, cfg.num_classes)

    def parse_genotype(self, text: str) -> NBMacroGenotype:
        return parse_nb_macro(text)

    def format_genotype(self, genotype: NBMacroGenotype) -> str:
        return str(genotype)
