"""tenas: TE-NAS (Chen et al. 2021), trainability (NTK condition number) and expressivity (linear regions).

* kappa = lambda_max / lambda_min of the empirical NTK Theta = J J^T on the batch, with J_n the gradient
  of the sum of image n's outputs w.r.t. the conv/linear weights (eigenvalues by torch.linalg.eigvalsh).
  A small kappa trains well (the paper minimises it). A rank-deficient NTK (lambda_min <= N * eps *
  lambda_max, eps of the gradients' dtype: the usual numerical-rank tolerance; e.g. identical images)
  gives kappa = +inf. One deficiency is structural and is set aside: when every path to the classifier
  ends in a BatchNorm on batch statistics without a nonlinearity after it (the DARTS supernet: every op
  ends in BN(affine=False), and global pooling and the linear classifier follow the cells), each feature
  has zero batch mean, so sum_n f(x_n) does not depend on the weights, sum_n J_n = 0 and the all-ones vector
  is a null vector of every such network's NTK (measured: |sum_n J_n| / |J_1| = 1e-5, lambda_min / lambda_max
  = 1e-12 on DARTS at batch 16, so every candidate had kappa = inf). Then kappa is taken on the complement of
  that vector (the smallest eigenvalue, the structural zero, is dropped) [D].
* R = the number of linear regions: distinct activation patterns (the sign of every ReLU unit's input)
  among `lr_points` inputs. Random images, and even points spread along the whole segment between two
  images, land each in its own region of an NB201-sized network (R saturates at the number of points),
  so, as Hanin & Rolnick (2019) count regions along 1-D trajectories, the inputs are `lr_points` (64)
  evenly spaced points on a short segment from the batch's first image x0 towards its second x1,
  x0 + t (x1 - x0) for t in [0, lr_length] (lr_length = 1e-4, chosen on NB201 C=16 networks, where 1e-3
  already saturates 64 points for most conv cells) [D]; R then measures how densely the
  network's region boundaries cut the input space near the data. The segment is evaluated with the BN
  statistics of the data batch (see `_FrozenBatchStats`). Identical images give R = 1.
  TE-NAS itself avoids the saturation differently: `activation_patterns` counts the patterns of 3,000 random
  one-channel 3x3 crops through a thin copy of the supernet (C=1, no stem), which the `tenas` strategy offers
  as `--tenas-regions patches`.

Combination. The paper ranks candidates by kappa (ascending) and by R (descending) and keeps the best
sum of ranks; `rank_combine` does exactly that over a set (used by `opscore proxies`). A rank needs a
set, so the single-network score, the one `--proxy tenas` evaluates, is
    tenas = ln R - ln kappa,
higher is better, monotone in both components (ln kappa = +inf gives -inf). `measure_session` exposes
the two components.
"""
from __future__ import annotations

import logging
import math
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from supernet.modes import preserved
from supernet.modules import BN_TYPES

from .proxy import PROXIES, Proxy, ScoreFn
from .common import logits_of, only_these_require_grad, scored_weights

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TenasMeasure:
    """The two TE-NAS components of one network on one batch."""

    ntk_cond: float
    regions: float

    @property
    def score(self) -> float:
        """ln R - ln kappa (the single-network form; see the module doc)."""
        if math.isnan(self.ntk_cond):
            return math.nan
        return math.log(self.regions) - math.log(self.ntk_cond)


# |sum_n J_n| / max_n |J_n| below this is the structural zero (float32 gradients through a DARTS supernet leave
# 1e-5; a network whose features keep a batch mean gives order 1)
_STRUCTURAL = 1e-3


def _rows_vmapped(out: torch.Tensor, params: list[torch.Tensor]) -> tuple[torch.Tensor | None, ...] | None:
    """Every row J_n in one vmapped backward, or None where a kernel has no batched rule (CUDA's channels-last
    convolution backward: 'NYI ... inside of vmap'); the graph is kept so the caller can go row by row."""
    n = out.shape[0]
    picks = torch.zeros((n, *out.shape), dtype=out.dtype, device=out.device)
    picks[torch.arange(n), torch.arange(n)] = 1.0  # row n of the batch, all its outputs
    try:
        return torch.autograd.grad(out, params, grad_outputs=picks, is_grads_batched=True, retain_graph=True,
                                   allow_unused=True)
    except RuntimeError as e:
        if "vmap" not in str(e):
            raise
        log.debug("vmapped NTK rows unavailable (%s); computing them one by one", str(e).splitlines()[0])
        return None


def ntk_condition_number(model: nn.Module, inputs: torch.Tensor, weights: Sequence[torch.Tensor],
                         batched: bool | None = None) -> float:
    """lambda_max / lambda_min of J J^T (J_n = d sum(f(x_n)) / d W); +inf when J J^T is rank-deficient.

    BN in batch mode couples the images, so each row J_n needs a backward pass through the whole batch's
    graph (as TE-NAS computes it). `batched` runs them as one vmapped backward (is_grads_batched; the
    default on CUDA), otherwise one after another (the default on CPU, where it measured 1.4x faster).
    """
    with torch.enable_grad():
        out = logits_of(model(inputs))
        n = out.shape[0]
        if not weights or not out.requires_grad:
            return math.inf
        params = list(weights)
        grads = None
        if batched if batched is not None else out.is_cuda:
            grads = _rows_vmapped(out, params)
        if grads is None:
            rows = [torch.autograd.grad(out[i].sum(), params, retain_graph=i + 1 < n, allow_unused=True)
                    for i in range(n)]
            grads = tuple(None if rows[0][k] is None else torch.stack([r[k] for r in rows])
                          for k in range(len(params)))
    used = [g.reshape(n, -1) for g in grads if g is not None]
    if not used:
        return math.inf
    tol = n * torch.finfo(used[0].dtype).eps  # numerical-rank tolerance of the gradients' precision
    jac = torch.cat(used, dim=1).double()
    if not bool(torch.isfinite(jac).all()):
        return math.nan
    lam = torch.linalg.eigvalsh(jac @ jac.T)
    if n > 2 and float(jac.sum(0).norm()) <= _STRUCTURAL * float(jac.norm(dim=1).max()):
        lam = lam[1:]  # sum_n J_n = 0: the all-ones vector is a structural null vector (module doc)
    lo, hi = float(lam[0]), float(lam[-1])
    return math.inf if hi <= 0.0 or lo <= hi * tol else hi / lo


class _PatternCounter:
    """Forward pre-hook on ReLUs: refines a per-sample pattern id with every unit's sign."""

    def __init__(self) -> None:
        self.ids: torch.Tensor | None = None

    def __call__(self, module: nn.Module, args: tuple) -> None:
        codes = (args[0].detach() > 0).reshape(args[0].shape[0], -1).to(torch.uint8)
        _, layer_ids = torch.unique(codes, dim=0, return_inverse=True)
        if self.ids is None:
            self.ids = layer_ids
        else:
            _, self.ids = torch.unique(torch.stack([self.ids, layer_ids], 1), dim=0, return_inverse=True)


class _FrozenBatchStats:
    """BN hooks: record the batch statistics of the data batch, then replay them on the segment.

    Points on a short segment are nearly identical; normalising them by their own batch statistics would
    blow the segment up to unit variance. The segment is therefore evaluated by the network the data
    batch defines: each BN call normalises with the statistics it had on the data batch.
    """

    def __init__(self) -> None:
        self.stats: list[tuple[torch.Tensor, torch.Tensor] | None] = []
        self.mode = "off"
        self.call = 0

    def pre(self, module: nn.Module, args: tuple) -> None:
        """Record mode: keep the batch statistics this BN call normalises with (None: running ones)."""
        if self.mode != "record":
            return
        x = args[0].detach()
        if module.training or module.running_var is None:  # type: ignore[union-attr]
            dims = [d for d in range(x.dim()) if d != 1]
            self.stats.append((x.mean(dims), x.var(dims, unbiased=False)))
        else:
            self.stats.append(None)

    def post(self, module: nn.Module, args: tuple, output: torch.Tensor) -> torch.Tensor | None:
        """Replay mode: the BN output recomputed with the recorded statistics of the same call."""
        if self.mode != "replay":
            return None
        if self.call >= len(self.stats):
            raise RuntimeError("the segment forward called BN more often than the data-batch forward")
        saved = self.stats[self.call]
        self.call += 1
        if saved is None:
            return None
        return F.batch_norm(args[0], saved[0], saved[1], module.weight, module.bias,  # type: ignore[arg-type]
                            False, 0.0, module.eps)  # type: ignore[arg-type]


def segment(inputs: torch.Tensor, points: int, length: float) -> torch.Tensor:
    """`points` evenly spaced inputs from the first image x0 to x0 + length * (x1 - x0)."""
    if inputs.shape[0] < 2:
        raise ValueError("tenas needs a batch of at least 2 images")
    t = torch.linspace(0.0, length, points, dtype=inputs.dtype, device=inputs.device)
    t = t.reshape(-1, *([1] * (inputs.dim() - 1)))
    return inputs[:1] + t * (inputs[1:2] - inputs[:1])


def activation_patterns(model: nn.Module, batches: Sequence[torch.Tensor]) -> int:
    """TE-NAS's linear-region count (VITA-Group/TENAS linear_region_counter.py): the number of distinct sign
    patterns of every ReLU unit on a feature map over all inputs of `batches`, one forward per batch in the model's
    current mode (train: each BN normalises with its batch's statistics, as TE-NAS counts on 1,000-input batches)."""
    codes: list[torch.Tensor] = []

    def hook(module: nn.Module, args: tuple) -> None:
        if args[0].dim() == 4:
            codes.append((args[0].detach() > 0).reshape(args[0].shape[0], -1))

    rows = []
    handles = [m.register_forward_pre_hook(hook) for m in model.modules() if isinstance(m, (nn.ReLU, nn.ReLU6))]
    try:
        with torch.no_grad():
            for x in batches:
                codes.clear()
                model(x)
                if codes:
                    rows.append(torch.cat(codes, 1))
    finally:
        for h in handles:
            h.remove()
    if not rows:
        return 1  # no ReLU on a feature map: one linear region
    return int(torch.unique(torch.cat(rows).to(torch.uint8), dim=0).shape[0])


def rank_combine(measures: Sequence[TenasMeasure]) -> list[float]:
    """TE-NAS's combination over a set: rank(kappa ascending) + rank(R descending), negated so that
    higher is better (ties get average ranks; NaN kappa ranks worst)."""
    kappa = np.array([m.ntk_cond for m in measures], dtype=float)
    kappa = np.where(np.isnan(kappa), np.inf, kappa)
    regions = np.array([m.regions for m in measures], dtype=float)
    from scipy.stats import rankdata  # scipy costs ~0.6 s to import: only when ranking

    return [-float(v) for v in rankdata(kappa) + rankdata(-regions)]


def te_nas_rank_combine(kappa_ratios: Sequence[Sequence[float]], region_ratios: Sequence[Sequence[float]],
                        precision: int = 3) -> list[float]:
    """The TE-NAS code's combination (prune_tenas.py `prune_func_rank`, launcher precision 3), negated so that higher
    is better: per initialisation k (rows), the relative changes (kappa_N - kappa) / kappa_N and (R_N - R) / R_N,
    i.e. 1 - ratio, rounded to `precision` decimals and averaged over k; dense ranks (equal means share a rank,
    the next mean takes the next rank) of the kappa change descending and the R change ascending, summed.
    A NaN change (an infinite kappa) ranks last in both."""
    from scipy.stats import rankdata

    def change(ratios: Sequence[Sequence[float]]) -> np.ndarray:
        return np.mean([[round(1.0 - float(r), precision) for r in row] for row in ratios], axis=0)

    dk, dr = change(kappa_ratios), change(region_ratios)
    by_kappa = rankdata(np.where(np.isnan(dk), np.inf, -dk), method="dense")
    by_regions = rankdata(np.where(np.isnan(dr), np.inf, dr), method="dense")
    return [-float(v) for v in by_kappa + by_regions]


@PROXIES.register("tenas")
class Tenas(Proxy):
    """TE-NAS: ln R - ln kappa on one network; components via `measure_session`; no labels."""

    def __init__(self, bn_mode: str = "batch", lr_points: int = 64, lr_length: float = 1e-4) -> None:
        super().__init__(bn_mode)
        if lr_points < 2:
            raise ValueError(f"tenas needs at least 2 linear-region points, got {lr_points}")
        if not 0.0 < lr_length <= 1.0:
            raise ValueError(f"tenas lr_length must be in (0, 1], got {lr_length}")
        self.lr_points, self.lr_length = lr_points, lr_length

    @contextmanager
    def _measurer(self, model: nn.Module, count_regions: Callable[[torch.Tensor], int] | None = None
                  ) -> Iterator[Callable[[torch.Tensor], TenasMeasure]]:
        counter, frozen = _PatternCounter(), _FrozenBatchStats()
        weights = scored_weights(model)
        only_these_require_grad(model, weights)
        relus = [m for m in model.modules() if isinstance(m, (nn.ReLU, nn.ReLU6))]
        bns = [m for m in model.modules() if isinstance(m, BN_TYPES)] if count_regions is None else []
        handles = [m.register_forward_pre_hook(frozen.pre) for m in bns]  # the segment's BN statistics only
        handles += [m.register_forward_hook(frozen.post) for m in bns]

        def measure(inputs: torch.Tensor) -> TenasMeasure:
            if count_regions is not None:
                return TenasMeasure(ntk_condition_number(model, inputs, weights), count_regions(inputs))
            frozen.stats, frozen.call, frozen.mode = [], 0, "record"
            try:
                kappa = ntk_condition_number(model, inputs, weights)
                frozen.mode, counter.ids = "replay", None
                relu_hooks = [m.register_forward_pre_hook(counter) for m in relus]
                try:
                    with torch.no_grad():
                        model(segment(inputs, self.lr_points, self.lr_length))
                finally:
                    for h in relu_hooks:
                        h.remove()
            finally:
                frozen.stats, frozen.mode = [], "off"
            regions = 1 if counter.ids is None else int(counter.ids.max()) + 1
            counter.ids = None
            return TenasMeasure(kappa, regions)

        try:
            yield measure
        finally:
            for h in handles:
                h.remove()

    @contextmanager
    def measure_session(self, model: nn.Module, count_regions: Callable[[torch.Tensor], int] | None = None
                        ) -> Iterator[Callable[[torch.Tensor], TenasMeasure]]:
        """Like `session`, but the callable returns both components (kappa, R); `count_regions` replaces the
        segment count (e.g. TE-NAS's `activation_patterns` on a thin copy)."""
        with preserved(model, self.bn_mode), self._measurer(model, count_regions) as measure:
            yield measure

    @contextmanager
    def _session(self, model: nn.Module) -> Iterator[ScoreFn]:
        with self._measurer(model) as measure:
            def evaluate(inputs: torch.Tensor, targets: torch.Tensor | None = None) -> float:
                return measure(inputs).score

            yield evaluate
