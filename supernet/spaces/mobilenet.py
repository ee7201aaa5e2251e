"""The MobileNet-like (ProxylessNAS GPU) space as the published Zero-Cost-PT code builds it.

Network (Cai et al. 2019; Xiang et al. 2023 code, mobilenet_search_space/): stem 3x3 conv stride 2 to
40 + BN + ReLU6, a fixed MBConv (expansion 1, kernel 3) to 24; 21 searchable layers in 6 stages of
(channels, layers, first stride) (32,4,2) (56,4,2) (112,4,2) (128,4,1) (256,4,2) (432,1,1); per layer
an MBConv k{3,5,7} x e{3,6} or `skip` (the layer is left out; not on a stage's first layer, which
changes the shape); head 1x1 conv to 1728 + BN + ReLU6, global average pooling, dropout 0.2, linear.

Stride schedules, chosen from the input side (one space, no second copy): inputs larger than 64 px
use the ImageNet strides above (total 32, 7x7 final map at 224). Inputs of at most 64 px (CIFAR)
make the stem and the first stage stride 1 (total 8, 4x4 final map at 32 px), as the CIFAR
adaptations of MobileNetV2 do; every stage then sees 4/7 of the side it sees at 224 px.

`NetConfig.channels` is the stem width (default 40); every width, head included, scales by
channels / 40 (at least 8), so tiny widths make cheap test networks. A genotype is 21
comma-separated tokens `k3e6,skip,k5e3,...`.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import torch
from torch import nn

from ..arch_state import ArchState
from ..mixed_op import MixedOp, SearchLayer
from .space import GenotypeError, NetConfig, SearchSpace
from . import SPACES

MB_OPS = ("k3e3", "k3e6", "k5e3", "k5e6", "k7e3", "k7e6")  # kernel x expansion, the published order
SKIP = "skip"
TOKENS = MB_OPS + (SKIP,)
STAGES = ((32, 4, 2), (56, 4, 2), (112, 4, 2), (128, 4, 1), (256, 4, 2), (432, 1, 1))  # (channels, layers, stride)
STEM_CHANNELS, FIRST_CHANNELS, HEAD_CHANNELS = 40, 24, 1728
DROPOUT = 0.2
MIN_WIDTH = 8  # narrower layers (tiny width multipliers) collapse the features of an untrained network
CIFAR_MAX_INPUT = 64  # inputs of at most this side use the CIFAR stride schedule
LAYERS = tuple(f"layer:{i}" for i in range(sum(n for _, n, _ in STAGES)))
FIRST_OF_STAGE = frozenset(sum(n for _, n, _ in STAGES[:s]) for s in range(len(STAGES)))  # 0, 4, 8, 12, 16, 20
EXAMPLE = ",".join(["k3e6"] + ["skip"] * 3 + ["k5e3"] + ["skip"] * 3 + ["k7e6"] + ["skip"] * 3 + ["k3e3"]
                   + ["skip"] * 3 + ["k5e6"] + ["skip"] * 3 + ["k7e3"])


def kernel_expansion(op: str) -> tuple[int, int]:
    """(kernel, expansion) of an MBConv token such as `k5e3`."""
    return int(op[1]), int(op[3])


def strides(input_size: int) -> tuple[int, tuple[int, ...]]:
    """(stem stride, first-layer stride of each stage) for square inputs of side `input_size`."""
    if input_size <= CIFAR_MAX_INPUT:
        return 1, (1,) + tuple(s for _, _, s in STAGES[1:])
    return 2, tuple(s for _, _, s in STAGES)


def scaled(c: int, channels: int | None) -> int:
    """Width `c` under the width multiplier channels / 40 (at least MIN_WIDTH)."""
    return c if channels is None or channels == STEM_CHANNELS else max(MIN_WIDTH, round(c * channels / STEM_CHANNELS))


def layer_shapes(channels: int | None, input_size: int) -> list[tuple[int, int, int]]:
    """(c_in, c_out, stride) of each of the 21 searchable layers."""
    _, stage_strides = strides(input_size)
    shapes, c = [], scaled(FIRST_CHANNELS, channels)
    for (c_out, n, _), s in zip(STAGES, stage_strides):
        out = scaled(c_out, channels)
        for i in range(n):
            shapes.append((c, out, s if i == 0 else 1))
            c = out
    return shapes


@dataclass(frozen=True)
class MobileNetGenotype:
    """One token per searchable layer, input to output (`skip`: the layer is left out)."""

    ops: tuple[str, ...]

    def __str__(self) -> str:
        return ",".join(self.ops)


def parse_mobilenet(text: str) -> MobileNetGenotype:
    """Parse `k3e6,skip,k5e3,...` (21 tokens); every defect is one GenotypeError line."""
    tokens = [t.strip() for t in str(text).strip().split(",")]
    return check_tokens(tokens, repr(text))


def check_tokens(tokens: list[Any], where: str) -> MobileNetGenotype:
    """The genotype of 21 tokens, or a GenotypeError naming the first defect and the fix."""
    if len(tokens) != len(LAYERS):
        raise GenotypeError(f"a mobilenet genotype is {len(LAYERS)} comma-separated tokens (one per layer) from "
                            f"{', '.join(TOKENS)}, e.g. {EXAMPLE}; got {len(tokens)} in {where}")
    for i, t in enumerate(tokens):
        if t not in TOKENS:
            raise GenotypeError(f"mobilenet layer {i} has unknown token {t!r} in {where}; tokens are "
                                f"{', '.join(TOKENS)}")
        if t == SKIP and i in FIRST_OF_STAGE:
            raise GenotypeError(f"mobilenet layer {i} is the first layer of a stage and cannot be 'skip' (it "
                                f"changes the shape) in {where}; choose one of {', '.join(MB_OPS)}")
    return MobileNetGenotype(tuple(tokens))


def _he_fan_out(module: nn.Module) -> None:
    """Conv weights ~ N(0, 2 / (k*k*out_channels)), BN 1/0: the init of the published supernet and of
    MobileNetV2/ProxylessNAS ('he_fout'); linear layers keep PyTorch's default."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            n = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
            nn.init.normal_(m.weight, 0.0, math.sqrt(2.0 / n))
        elif isinstance(m, nn.BatchNorm2d) and m.affine:
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


class MBConv(nn.Module):
    """Inverted residual (Sandler et al. 2018): [1x1 expand-BN-ReLU6], kxk depthwise-BN-ReLU6, 1x1-BN, + x
    when the stride is 1 and the channels match; expansion 1 has no expand conv."""

    def __init__(self, c_in: int, c_out: int, stride: int, kernel: int, expansion: int, affine: bool = True) -> None:
        super().__init__()
        hidden = c_in * expansion
        layers: list[nn.Module] = []
        if expansion != 1:
            layers += [nn.Conv2d(c_in, hidden, 1, bias=False), nn.BatchNorm2d(hidden, affine=affine),
                       nn.ReLU6(inplace=False)]
        layers += [nn.Conv2d(hidden, hidden, kernel, stride=stride, padding=kernel // 2, groups=hidden, bias=False),
                   nn.BatchNorm2d(hidden, affine=affine), nn.ReLU6(inplace=False),
                   nn.Conv2d(hidden, c_out, 1, bias=False), nn.BatchNorm2d(c_out, affine=affine)]
        self.body = nn.Sequential(*layers)
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.body(x)
        return y + x if self.residual else y


def mobilenet_op(name: str, c_in: int, c_out: int, stride: int, affine: bool = True) -> nn.Module:
    """One candidate of a layer of shape (c_in, c_out, stride); `skip` is the identity (same shape only)."""
    if name == SKIP:
        if stride != 1 or c_in != c_out:
            raise GenotypeError(f"'skip' cannot change the shape ({c_in}->{c_out}, stride {stride})")
        return nn.Identity()
    if name not in MB_OPS:
        raise ValueError(f"unknown mobilenet op {name!r}; ops are {', '.join(TOKENS)}")
    k, e = kernel_expansion(name)
    return MBConv(c_in, c_out, stride, k, e, affine)


class MobileNetNetwork(nn.Module):
    """Stem conv3x3-BN-ReLU6, MBConv e1 k3 to 24, the searchable layers, head conv1x1-BN-ReLU6, GAP,
    dropout, linear."""

    def __init__(self, make_layer: Callable[[int, int, int, int], nn.Module | None], channels: int | None,
                 num_classes: int, input_size: int) -> None:
        super().__init__()
        stem, first, head = (scaled(c, channels) for c in (STEM_CHANNELS, FIRST_CHANNELS, HEAD_CHANNELS))
        stem_stride, _ = strides(input_size)
        self.stem = nn.Sequential(nn.Conv2d(3, stem, 3, stride=stem_stride, padding=1, bias=False),
                                  nn.BatchNorm2d(stem), nn.ReLU6(inplace=False), MBConv(stem, first, 1, 3, 1))
        shapes = layer_shapes(channels, input_size)
        built = [make_layer(i, *s) for i, s in enumerate(shapes)]
        self.layers = nn.Sequential(*(m for m in built if m is not None))
        self.head = nn.Sequential(nn.Conv2d(shapes[-1][1], head, 1, bias=False), nn.BatchNorm2d(head),
                                  nn.ReLU6(inplace=False))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(DROPOUT)
        self.classifier = nn.Linear(head, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.head(self.layers(self.stem(x)))
        return self.classifier(self.dropout(self.pool(y).flatten(1)))


_TOKENS_RE = re.compile(r"^\s*(k\d+e\d+|skip)\s*,")  # `k3e6,skip,...`: the first token and a comma


@SPACES.register("mobilenet")
class MobileNetSpace(SearchSpace):
    """ProxylessNAS-GPU-like space: 21 layer edges `layer:0`..`layer:20`, MBConv k{3,5,7}e{3,6} (+ skip)."""

    # the grouped forward's grouped depthwise convolutions are 5x slower on an H200 than one forward per
    # perturbation (proposal iteration, batch 64: 28.0 vs 5.4 s at 32 px, 40.5 vs 7.2 s at 224 px)
    grouped_on_cuda = False
    text_format = "a MobileNet list of 21 tokens k3e6,skip,k5e3,..."

    @classmethod
    def claims_text(cls, text: str) -> bool:
        return _TOKENS_RE.match(text) is not None

    def candidates(self) -> dict[str, tuple[str, ...]]:
        return {e: MB_OPS if i in FIRST_OF_STAGE else TOKENS for i, e in enumerate(LAYERS)}

    def default_net_config(self, purpose: str) -> NetConfig:
        """Full width (stem 40); the supernet mixes by the uniform average (measured; see README)."""
        return NetConfig(channels=STEM_CHANNELS, mixing="uniform")

    def build_supernet(self, state: ArchState, cfg: NetConfig) -> nn.Module:
        """One mixed op per layer; BN without affine parameters in the candidates, as in search models."""
        alphas: Mapping[str, torch.Tensor] | None = state.alphas

        def make_layer(i: int, c_in: int, c_out: int, stride: int) -> nn.Module:
            edge = LAYERS[i]
            ops = {o: mobilenet_op(o, c_in, c_out, stride, affine=False) for o in state.candidates(edge)}
            return SearchLayer(MixedOp(edge, ops, state, cfg.mixing, alphas), "mobilenet")

        net = MobileNetNetwork(make_layer, cfg.channels, cfg.num_classes, cfg.input_size)
        _he_fan_out(net)
        return net

    def genotype_from_state(self, state: ArchState) -> MobileNetGenotype:
        missing = state.undecided()
        if missing:
            raise ValueError(f"edges not decided yet: {missing}")
        return MobileNetGenotype(tuple(state.decided(e) for e in LAYERS))  # type: ignore[misc]

    def state_from_genotype(self, genotype: MobileNetGenotype) -> ArchState:
        """A fresh arch state with every edge decided as `genotype` says."""
        state = self.new_state()
        for e, op in zip(LAYERS, genotype.ops):
            state.decide(e, op)
        return state

    def build_network(self, genotype: MobileNetGenotype, cfg: NetConfig) -> nn.Module:
        """The stand-alone network: `skip` layers are left out."""
        ops = genotype.ops

        def make_layer(i: int, c_in: int, c_out: int, stride: int) -> nn.Module | None:
            return None if ops[i] == SKIP else mobilenet_op(ops[i], c_in, c_out, stride)

        net = MobileNetNetwork(make_layer, cfg.channels, cfg.num_classes, cfg.input_size)
        _he_fan_out(net)
        return net

    def parse_genotype(self, text: str) -> MobileNetGenotype:
        return parse_mobilenet(text)

    def format_genotype(self, genotype: MobileNetGenotype) -> str:
        return str(genotype)

    def genotype_to_json(self, genotype: MobileNetGenotype) -> Any:
        """The list of the 21 tokens."""
        return list(genotype.ops)

    def genotype_from_json(self, data: Any) -> MobileNetGenotype:
        """A list of 21 tokens (or the text form)."""
        if isinstance(data, str):
            return parse_mobilenet(data)
        if not isinstance(data, list):
            raise GenotypeError(f"expected a mobilenet genotype as a list of {len(LAYERS)} tokens, got "
                                f"{type(data).__name__}")
        return check_tokens(list(data), "the JSON list")
