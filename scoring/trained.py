"""What the training-based scorers (darts-alpha, darts-pt, disc-acc) use of a trained supernet.

Declared here because scoring must not import search; `search.supernet_train.tuning.SupernetTuner`
is the implementation `opscore search --supernet` passes in.
"""
from __future__ import annotations

from typing import Any, ContextManager, Protocol


class TrainedSupernet(Protocol):
    """Accuracy, fine-tuning and snapshots of a trained supernet under the current arch state."""

    eval_mixing: str  # the mixing rule the supernet is evaluated with (darts-alpha's weights)

    def accuracy(self) -> float:
        """Validation accuracy of the supernet under the current arch state."""

    def fine_tune(self, epochs: float, seed: int) -> int:
        """Train for `epochs` passes over the training half under the current arch state."""

    def snapshot(self) -> Any:
        """Weights, buffers and alphas."""

    def restore(self, snap: Any) -> None:
        """Back to a snapshot."""

    def trial(self) -> ContextManager[Any]:
        """Fine-tuning inside the block is undone on exit."""
