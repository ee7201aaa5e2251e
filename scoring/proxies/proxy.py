"""Zero-cost proxy contract and registry: (model, batch) -> float, higher is better.

A proxy attaches to a model once per search (`session`), may be evaluated many times, and
restores everything it touched on exit: train/eval mode, BN buffers, requires_grad, hooks.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from contextlib import contextmanager, nullcontext
from typing import TYPE_CHECKING, Callable, ClassVar, Iterator

import torch
from torch import nn

from runtime.settings import NoOptions

from supernet.folding import folded_batch_norm
from supernet.modes import BN_MODES, preserved
from supernet.registry import Registry

if TYPE_CHECKING:
    from supernet.grouped import Grouping

ScoreFn = Callable[[torch.Tensor, torch.Tensor], float]  # what `_session` yields: the score of one batch


class Evaluator:
    """What a proxy session yields: `ev(inputs, targets)` scores one batch; `score_groups` scores every
    group of a grouped forward (supernet.grouped) at once, for proxies that declare `supports_groups`."""

    def __init__(self, score: ScoreFn, proxy: str) -> None:
        self._score = score
        self.proxy = proxy

    def __call__(self, inputs: torch.Tensor, targets: torch.Tensor) -> float:
        return self._score(inputs, targets)

    def score_groups(self, inputs: torch.Tensor, targets: torch.Tensor, grouping: Grouping) -> list[float]:
        """One score per group of `grouping` from one forward of the batch repeated per group."""
        raise NotImplementedError(f"proxy {self.proxy!r} cannot score grouped variants (supports_groups is False); "
                                  f"score each variant with its own forward")


class Proxy(ABC):
    """Base class of every proxy. Subclasses implement `_session` and document formula and source."""

    name: ClassVar[str] = ""
    Settings: ClassVar[type] = NoOptions  # options a proxy declares for flags and YAML (its __init__ takes them)
    needs_labels: ClassVar[bool] = False
    supports_groups: ClassVar[bool] = False  # its evaluator implements `score_groups`
    # the score reads forward activations only (no parameter gradients), so eval-mode BNs may be folded into
    # their convolutions while it scores (supernet.folding: exact in real arithmetic, a tenth fewer passes)
    folds_batch_norm: ClassVar[bool] = False

    def __init__(self, bn_mode: str = "batch") -> None:
        if bn_mode not in BN_MODES:
            raise ValueError(f"unknown BN mode {bn_mode!r}; choose one of: {', '.join(BN_MODES)}")
        self.bn_mode = bn_mode

    @contextmanager
    def session(self, model: nn.Module) -> Iterator[Evaluator]:
        """Attach to `model` once; yield an evaluator (inputs, targets) -> score; restore on exit."""
        with self.forward_mode(model), self._session(model) as ev:
            yield ev if isinstance(ev, Evaluator) else Evaluator(ev, self.name)

    @contextmanager
    def forward_mode(self, model: nn.Module) -> Iterator[nn.Module]:
        """`model` as this proxy runs it: in its BN mode (restored on exit), with eval-mode BNs folded into their
        convolutions where the proxy allows it."""
        with preserved(model, self.bn_mode):
            fold = self.folds_batch_norm and self.bn_mode == "eval"
            with folded_batch_norm(model) if fold else nullcontext():
                yield model

    @abstractmethod
    def _session(self, model: nn.Module) -> "contextmanager[ScoreFn]":  # type: ignore[valid-type]
        """Proxy-specific attachment (hooks etc.), yielding a ScoreFn or an Evaluator (grouped scoring);
        the model is already in the requested BN mode."""

    def __call__(self, model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> float:
        """Score one batch (attach, evaluate, detach)."""
        with self.session(model) as ev:
            return ev(inputs, targets)


PROXIES: Registry[type[Proxy]] = Registry("proxy")
