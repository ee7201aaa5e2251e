"""zen: the Zen-score of Zen-NAS (Lin et al. 2021, eq. 4-5): expressivity of the pre-pooling features.

    Zen = ln E_{x, eps} || f(x) - f(x + alpha * eps) ||_F  +  sum_i ln sigma_i,
    sigma_i = sqrt( mean_j sigma_{i,j}^2 ),
with f the feature map entering the network's last global pooling (its output when it has none),
x and eps standard Gaussian images of the batch's shape, alpha = 0.01, the expectation the mean of the
per-image Frobenius norms, and sigma_{i,j} the standard deviation BN layer i divides channel j by in the
forward of x: the batch statistic (var + eps) in BN mode 'batch', the running one in 'eval'. The BN term
undoes BN's normalisation so that networks of different widths and depths compare. Higher is better.

Choices [D]: x and eps come from a generator seeded by the proxy's `seed` (default 0), so every
network sees the same draws (deterministic); only the batch's shape and device are used (data-free,
as in the paper). Zen-NAS re-initialises weights from N(0, 1) before scoring; we score the weights the
model has (a proxy never changes its model). A network whose features do not depend on the input
has ||f(x) - f(x + alpha eps)|| = 0 and scores ln 0 = -inf. Runs without autograd.

`zen-nobn` is the first term alone. In a supernet the BN term is not the path's rescaling it is in a plain
network: it sums ln sigma over every BN of every parallel op, so removing an op with BNs drops its terms.
Measured on the untrained NB201 supernet (uniform-fixed mixing, batch BN, 186 BNs of sigma^2 about 0.03):
removing a conv op removes 15 BNs and raises the BN term by about 22, against feature-term differences of
about 1, so Zero-Cost-PT with `zen` keeps skip_connect and pooling because they carry no BNs.
"""
from __future__ import annotations

import math
from contextlib import contextmanager
from typing import ClassVar, Iterator

import torch
from torch import nn

from supernet.modules import BN_TYPES

from .proxy import PROXIES, Proxy, ScoreFn

_POOLS = (nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d,
          nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d, nn.AdaptiveMaxPool3d)


def gaussian_pair(shape: torch.Size | tuple[int, ...], seed: int, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The (x, eps) standard Gaussian draws of the Zen-score for a batch shape (CPU generator, seeded)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(tuple(shape), generator=g)
    eps = torch.randn(tuple(shape), generator=g)
    return x.to(like), eps.to(like)


def bn_divisor_var(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Per-channel variance (plus eps) that `module` divides its input by in this forward."""
    uses_batch = module.training or module.running_var is None  # type: ignore[union-attr]
    if uses_batch:
        dims = [d for d in range(x.dim()) if d != 1]
        var = x.detach().double().var(dim=dims, unbiased=False)
    else:
        var = module.running_var.detach().double()  # type: ignore[union-attr]
    return var + module.eps  # type: ignore[operator]


class _ZenRecorder:
    """Forward pre-hooks: the last global-pool input and sum_i ln sigma_i of the BN layers."""

    def __init__(self) -> None:
        self.features: torch.Tensor | None = None
        self.log_sigma = 0.0
        self.record_bn = False  # set for the forward of x, when the proxy has a BN term

    def pool(self, module: nn.Module, args: tuple) -> None:
        self.features = args[0]

    def bn(self, module: nn.Module, args: tuple) -> None:
        if self.record_bn:
            self.log_sigma += 0.5 * math.log(float(bn_divisor_var(module, args[0]).mean()))


@PROXIES.register("zen")
class Zen(Proxy):
    """Zen-NAS score (data-free, no autograd): ln of the feature change under a small input perturbation
    plus the BN scaling terms."""

    bn_term: ClassVar[bool] = True  # add sum_i ln sigma_i (zen-nobn: no)

    def __init__(self, bn_mode: str = "batch", alpha: float = 0.01, seed: int = 0) -> None:
        super().__init__(bn_mode)
        self.alpha, self.seed = alpha, seed

    @contextmanager
    def _session(self, model: nn.Module) -> Iterator[ScoreFn]:
        rec = _ZenRecorder()
        pools = [m for m in model.modules() if isinstance(m, _POOLS)]
        handles = [m.register_forward_pre_hook(rec.pool) for m in pools]
        handles += [m.register_forward_pre_hook(rec.bn) for m in model.modules() if isinstance(m, BN_TYPES)]

        def features(x: torch.Tensor) -> torch.Tensor:
            rec.features = None
            out = model(x)
            if rec.features is None:
                out = out[0] if isinstance(out, (tuple, list)) else out
                return out.double()
            return rec.features.double()

        def evaluate(inputs: torch.Tensor, targets: torch.Tensor | None = None) -> float:
            x, eps = gaussian_pair(inputs.shape, self.seed, inputs)
            with torch.no_grad():
                rec.log_sigma, rec.record_bn = 0.0, self.bn_term
                f0 = features(x)
                rec.record_bn = False
                f1 = features(x + self.alpha * eps)
            delta = float((f0 - f1).flatten(1).norm(dim=1).mean())
            if math.isnan(delta) or math.isnan(rec.log_sigma):
                return math.nan
            return (-math.inf if delta == 0.0 else math.log(delta)) + rec.log_sigma

        try:
            yield evaluate
        finally:
            for h in handles:
                h.remove()


@PROXIES.register("zen-nobn")
class ZenNoBN(Zen):
    """Zen-score without the BN term: ln E ||f(x) - f(x + alpha eps)||, for supernets (module doc)."""

    bn_term = False
