"""params: the number of parameters the forward pass uses (a baseline of the zero-cost paper).

Counted over the modules that actually run in a forward pass (forward pre-hooks), each tensor once, so
a supernet in any edit state counts only its active ops (removed ops and 'none' never run) and a
stand-alone network counts all of its parameters. Architecture parameters are not module parameters
and are never counted. Higher is better (the larger network). Runs without autograd, on the first two
images of the batch (the count does not depend on the data).
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import torch
from torch import nn

from .proxy import PROXIES, Proxy, ScoreFn


@PROXIES.register("params")
class Params(Proxy):
    """Number of parameters of the executed modules."""

    @contextmanager
    def _session(self, model: nn.Module) -> Iterator[ScoreFn]:
        seen: dict[int, int] = {}

        def hook(module: nn.Module, args: tuple) -> None:
            for p in module.parameters(recurse=False):
                seen[id(p)] = p.numel()

        handles = [m.register_forward_pre_hook(hook) for m in model.modules()]

        def evaluate(inputs: torch.Tensor, targets: torch.Tensor | None = None) -> float:
            seen.clear()
            with torch.no_grad():
                model(inputs[:2])
            total = float(sum(seen.values()))
            seen.clear()
            return total

        try:
            yield evaluate
        finally:
            for h in handles:
                h.remove()
