"""A planted toy space for the supernet-training and trained-scorer tests.

Vectors x ~ N(0, I_8) labelled by the sign of x_0 + x_1 pass through a chain of edges; each edge may
keep the signal (`signal` = identity), replace it by fresh noise (`noise`), or output nothing (`none`),
then BN and a linear classifier. `signal` is the clearly better op on every edge.
"""
from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.data import Dataset

from supernet.arch_state import ArchState
from supernet.mixed_op import MixedOp
from supernet.ops import Zero
from supernet.spaces.space import GenotypeError, NetConfig, SearchSpace

TOY_OPS = ("none", "noise", "signal")
DIM = 8


class Noise(nn.Module):
    """Fresh Gaussian noise shaped like the input: carries no information."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 0.3 * torch.randn_like(x)


def make_op(name: str) -> nn.Module:
    return {"none": Zero, "noise": Noise, "signal": nn.Identity}[name]()


class ToyNet(nn.Module):
    def __init__(self, edges: dict[str, nn.Module], num_classes: int) -> None:
        super().__init__()
        self.edges = nn.ModuleDict(edges)
        self.norm = nn.BatchNorm1d(DIM, affine=False)  # scale-free: only the signal-to-noise ratio matters
        self.classifier = nn.Linear(DIM, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x
        for edge in self.edges.values():
            y = edge(h)
            h = torch.zeros_like(h) if y is None else y
        return self.classifier(self.norm(h))


class ToySpace(SearchSpace):
    name = "toy"

    def __init__(self, edges: tuple[str, ...] = ("e1", "e2")) -> None:
        self.edge_names = edges

    def candidates(self) -> dict[str, tuple[str, ...]]:
        return {e: TOY_OPS for e in self.edge_names}

    def build_supernet(self, state: ArchState, cfg: NetConfig) -> nn.Module:
        return ToyNet({e: MixedOp(e, {o: make_op(o) for o in TOY_OPS}, state, cfg.mixing, state.alphas)
                       for e in self.edge_names}, cfg.num_classes)

    def genotype_from_state(self, state: ArchState) -> tuple[str, ...]:
        return tuple(state.decided(e) for e in self.edge_names)  # type: ignore[misc]

    def build_network(self, genotype: tuple[str, ...], cfg: NetConfig) -> nn.Module:
        class Fixed(nn.Module):
            def __init__(self, op: str) -> None:
                super().__init__()
                self.op = None if op == "none" else make_op(op)

            def forward(self, x):
                return None if self.op is None else self.op(x)

        return ToyNet({e: Fixed(o) for e, o in zip(self.edge_names, genotype)}, cfg.num_classes)

    def parse_genotype(self, text: str) -> tuple[str, ...]:
        ops = tuple(text.split("-"))
        if len(ops) != len(self.edge_names) or any(o not in TOY_OPS for o in ops):
            raise GenotypeError(f"bad toy genotype {text!r}")
        return ops

    def format_genotype(self, genotype: tuple[str, ...]) -> str:
        return "-".join(genotype)


class ToyData(Dataset):
    """n seeded samples; label = [x_0 + x_1 > 0]."""

    classes = ["neg", "pos"]

    def __init__(self, n: int = 256, seed: int = 0) -> None:
        g = torch.Generator().manual_seed(seed)
        self.x = torch.randn(n, DIM, generator=g)
        self.y = (self.x[:, 0] + self.x[:, 1] > 0).long()

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int):
        return self.x[i], int(self.y[i])


def test_the_planted_op_is_better_stand_alone():
    """Sanity of the toy: a least-squares classifier on `signal` beats chance by far, on `noise` it does not."""
    torch.manual_seed(0)
    data = ToyData(512)
    for op, lo, hi in (("signal", 0.9, 1.01), ("noise", 0.0, 0.7)):
        net = ToySpace(("e",)).build_network((op,), NetConfig(num_classes=2))
        feats = torch.cat([net.edges["e"](data.x), torch.ones(len(data.x), 1)], 1)
        w = torch.linalg.lstsq(feats, 2.0 * data.y.float() - 1).solution
        acc = float(((feats @ w > 0).long() == data.y).float().mean())
        assert lo <= acc < hi, (op, acc)


@pytest.fixture
def toy_space_registered(monkeypatch):
    """ToySpace registered as 'toy' for one test (search settings name their space)."""
    from supernet.spaces import SPACES
    monkeypatch.setitem(SPACES._items, "toy", ToySpace)
