"""fisher (Theis et al. 2018; Turner et al. 2020; Abdelfattah et al. 2021 eq. 2), channel form.

For every output z of a conv/linear layer (one entry per call) and every channel k:
    Delta_k = 1/(2N) * sum_n ( sum_{spatial} z_{n,k} * dL_n/dz_{n,k} )^2,
with L_n the cross-entropy of sample n (Theis et al.'s per-example gradient); S = sum of Delta_k over
every channel of every layer. Higher is better. The published zero-cost code differs in two ways we
do not copy: it differentiates the batch-mean loss (a factor 1/N^2, harmless for ranking) and it
broadcasts Delta_k onto the weights before summing, which weights each channel by its fan-in.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import torch
import torch.nn.functional as F
from torch import nn

from .proxy import PROXIES, Proxy, ScoreFn
from .common import WEIGHT_LAYERS, grads_or_zeros, logits_of, only_these_require_grad, require_targets, \
    scored_layers, scored_weights


def channel_saliency(z: torch.Tensor, grad: torch.Tensor, channel_last: bool) -> torch.Tensor:
    """sum_k 0.5 * mean_n (sum over the other dims of z * dL/dz)^2 for one layer output, in float64."""
    prod = (z.detach() * grad).double()
    if channel_last:  # linear: (N, ..., C)
        per = prod.reshape(prod.shape[0], -1, prod.shape[-1]).sum(1)
    else:  # conv: (N, C, ...)
        per = prod.reshape(prod.shape[0], prod.shape[1], -1).sum(2)
    return 0.5 * per.pow(2).mean(0).sum()


@PROXIES.register("fisher")
class Fisher(Proxy):
    """Summed channel Fisher saliency of every conv/linear output (one forward, one backward)."""

    needs_labels = True

    @contextmanager
    def _session(self, model: nn.Module) -> Iterator[ScoreFn]:
        captured: list[tuple[torch.Tensor, bool]] = []

        def hook(module: nn.Module, args: tuple, output: torch.Tensor) -> None:
            captured.append((output, isinstance(module, nn.Linear)))

        only_these_require_grad(model, scored_weights(model))
        handles = [m.register_forward_hook(hook) for m in scored_layers(model) if isinstance(m, WEIGHT_LAYERS)]

        def evaluate(inputs: torch.Tensor, targets: torch.Tensor) -> float:
            y = require_targets(self.name, targets)
            captured.clear()
            try:
                with torch.enable_grad():
                    loss = F.cross_entropy(logits_of(model(inputs)), y, reduction="sum")
                    outs = [z for z, _ in captured if z.requires_grad]
                    lasts = [last for z, last in captured if z.requires_grad]
                    grads = grads_or_zeros(loss, outs)
                return float(sum((channel_saliency(z, g, last) for z, g, last in zip(outs, grads, lasts)),
                                 torch.zeros((), dtype=torch.float64)))
            finally:
                captured.clear()

        try:
            yield evaluate
        finally:
            for h in handles:
                h.remove()
