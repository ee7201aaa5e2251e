"""The `tenas` strategy: TE-NAS pruning (Chen, Gong & Wang 2021, Algorithm 1) from the full supernet.

As the TE-NAS code does (VITA-Group/TENAS, prune_tenas.py: `prune_func_rank` sets the alpha of op 0,
'none', to -INF first), 'none' is removed from every edge before pruning. Each op round then scores, on
one fresh minibatch, the untrained supernet with each (edge, op) removed: NTK condition number kappa and
linear regions R (scoring.proxies.tenas, BN batch statistics, as TE-NAS measures in train mode). Over all
(edge, op) of the round (both cell types), kappa is ranked ascending and R descending (`rank_combine`;
TE-NAS ranks the relative changes (kappa_N - kappa_{N-o}) / kappa_N and (R_N - R_{N-o}) / R_N, which
order the same way since kappa_N and R_N are fixed in a round); on every edge with more than one op the
`prune_number` ops whose removal ranks best (Algorithm 1's argmin of s_kappa + s_R; at most all but one) are
pruned; ties go to the earlier op. Rounds repeat until one op per edge remains. `prune_number` defaults to the
TE-NAS launcher's (prune_launch.py): 1 on NB201 (3 rounds), 3 on DARTS CIFAR-10 (2 rounds of 7 ops); its
minibatches there are 72 and 14 images (`--batch-size`).

DARTS spaces (topology), as TE-NAS's `prune_func_rank_group` (num_per_group=2): node by node (normal cell,
then reduce), one round per node with more than 2 inputs: the single-path supernet is scored with each
live input edge removed, ranked within the node, and the node keeps the 2 edges whose removal ranks worst.
`--tenas-repeat` K > 1 does what the TE-NAS code's `repeat` (3) means to do: K initialisations per round (the
first is the supernet's own), each measuring the unpruned supernet (kappa_N, R_N) and every removal; a removal is
ranked by the means over the K of kappa / kappa_N and R / R_N (the same order as TE-NAS's mean relative changes).
With K=1 the raw kappa and R are ranked (the same order). The TE-NAS code's re-initialisation does nothing: its
launcher's `--init kaiming_normal` becomes 'kaiming_normal_fanout', which `init_model` (expecting
'kaiming_norm_fanout') does not know, so every network keeps PyTorch's default initialisation, as ours do, and its
repeats differ only in their minibatches. Ties: average ranks by default; `--tenas-ranks te-nas` ranks as the
TE-NAS code does (relative changes rounded to 3 decimals, dense ranks; `te_nas_rank_combine`), measuring
kappa_N and R_N at K=1 too. Other differences from the TE-NAS code: one minibatch per round (TE-NAS draws one per
measure); R counted as scoring.proxies.tenas counts it, unless `--tenas-regions patches` (below).

The pruned supernet is TE-NAS's (prune_tenas.py `model_config`) unless --channels / --cells say otherwise:
NB201 C=3 with 1 cell per stage; DARTS (launcher's `nasnet-super`, search_model_darts_nasnet.py at N=1, depth 2)
C=1, a stem of C channels, a normal and a reduce cell, BN + ReLU before pooling. With --cells K a DARTS
supernet has the DARTS search layout (stem 3C, reductions at K//3 and 2K//3, no head activation). They make
a measure about 30x (NB201) and 15x (DARTS) cheaper than the C=16 supernets. The ops are TE-NAS's at every size
(cell_operations.py): BN with affine parameters (their gradients enter the NTK), DARTS's pools without a BN after
them. Linear regions are counted on a segment of length `--tenas-lr-length` (1e-3: on these supernets R is
11-19 of 64 points on NB201, 30-47 on DARTS; 1e-4 gives 1-4 on NB201, 1e-2 saturates).

`--tenas-regions patches` counts R as the TE-NAS code does (prune_tenas.py `model_config_thin`,
linear_region_counter.py): on a thin copy of the supernet (C=1, no stem; NB201: its first cell only, DARTS: the
normal and reduce cell) sharing the arch state, the distinct ReLU sign patterns of 3 batches of 1,000 random
one-channel 3x3 crops of the data, BN on each batch's statistics. The crops are drawn once per round (TE-NAS
draws new ones for every measure), so every removal is counted on the same inputs; a removed op is not computed
(TE-NAS still computes it with weight 0, so its ReLU adds the signs of its input node).

Rounds are journalled (tenas_rounds.jsonl: supernet, measures, pruned ops, seconds); `--resume` replays them and
refuses a journal measured on another supernet or other pairs (a run started by older code).
"""
from __future__ import annotations

import json
import logging
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Iterator

import numpy as np
import torch

from runtime import seeds
from runtime.io import append_line, json_safe
from runtime.settings import SettingsError, setting
from runtime.rundir import RunFolderError
from runtime.seeds import derive_seed
from scoring.proxies.tenas import Tenas, TenasMeasure, activation_patterns, rank_combine, te_nas_rank_combine
from supernet.spaces.space import NetConfig

from ..batches import BatchStream, random_patches
from ..config import ConfigError, SearchConfig
from .strategy import STRATEGIES, SearchContext, Strategy, one_process

log = logging.getLogger(__name__)

ROUNDS = "tenas_rounds.jsonl"
# TE-NAS's pruning settings (prune_tenas.py model_config, prune_launch.py prune_number):
# (supernet channels, cells, ops pruned per edge per round); TE_NAS_DARTS for every darts space
TE_NAS = {"nb201": (3, 1, 1)}
TE_NAS_DARTS = (1, 2, 3)
# TE-NAS's DARTS macro layout (NASNetworkDARTS, N=1, depth=2, stem_multiplier=1): cell 1 reduces, lastact head
TE_NAS_DARTS_LAYOUT = {"stem_multiplier": 1, "reduce_cells": (1,), "final_act": True}
# TE-NAS's ops (cell_operations.py; the launcher's model configs set affine): affine BN, no BN after DARTS's pools
TE_NAS_OPS = {"affine_ops": True, "pool_bn": False}
# TE-NAS's thin copy counting linear regions (prune_tenas.py model_config_thin: C=1, N=1, use_stem False; NB201
# depth 1, DARTS depth 2) and its inputs (Linear_Region_Collector(input_size=(1000, 1, 3, 3), sample_batch=3))
TE_NAS_THIN = {"nb201": {"channels": 1, "cells": 1, "depth": 1}}
TE_NAS_THIN_DARTS = {"channels": 1, "cells": 2, **TE_NAS_DARTS_LAYOUT}
TE_NAS_PATCHES = (3, 1000, 3)  # batches, crops per batch, crop side
Measure = Callable[[torch.Tensor], TenasMeasure]


@dataclass
class TenasSettings:
    """TE-NAS's options (Chen et al. 2021; the defaults as its launcher where one is given)."""

    prune_number: int | None = setting(None, "tenas: ops pruned per edge per round (default: TE-NAS's launcher, 1 on "
                                             "nb201 and 3 on the darts spaces)", minimum=1)
    tenas_repeat: int = setting(1, "tenas: re-initialisations per round; each removal is ranked by its kappa and R "
                                   "relative to the unpruned supernet's, averaged (the TE-NAS code: 3)", minimum=1)
    tenas_lr_length: float = setting(1e-3, "tenas: length of the input segment whose linear regions are counted "
                                           "(1e-3 leaves R mid-range on TE-NAS's small pruning supernets; about 1e-4 "
                                           "for the C=16 supernets)")
    tenas_regions: str = setting("segment", "tenas: how linear regions R are counted: segment (points on a short input "
                                            "segment through the pruned supernet) or patches (TE-NAS's count: distinct "
                                            "activation patterns of 3 x 1,000 random one-channel 3x3 crops through a "
                                            "thin copy, C=1, no stem)", choices=("segment", "patches"))
    tenas_ranks: str = setting("average", "tenas: how removals are ranked: average (ranks of kappa and R, ties "
                                          "averaged) or te-nas (the TE-NAS code: relative changes rounded to 3 "
                                          "decimals, dense ranks)", choices=("average", "te-nas"))

    def validate(self) -> None:
        """The segment length lies in (0, 1]."""
        if not 0.0 < self.tenas_lr_length <= 1.0:
            raise SettingsError(f"--tenas-lr-length must be in (0, 1], got {self.tenas_lr_length}")


@STRATEGIES.register("tenas")
class TenasPruning(Strategy):
    """Prune the full supernet by TE-NAS ranks until a single path (and 2 inputs per DARTS node) remains."""

    markers = (ROUNDS, "result.json")
    Settings = TenasSettings
    spaces: ClassVar[tuple[str, ...]] = ("nb201", "darts", "darts-s1", "darts-s2", "darts-s3", "darts-s4")

    def check(self, settings: SearchConfig) -> None:
        """TE-NAS is defined for the cell spaces NB201 and DARTS."""
        if settings.space not in self.spaces:
            raise ConfigError(f"--strategy tenas supports the spaces {', '.join(self.spaces)}, not "
                              f"{settings.space!r}; choose one of them")

    def prepare(self, ctx: SearchContext) -> None:
        """The full supernet (seeded) and the rounds a killed run finished."""
        one_process(ctx)
        s = ctx.settings
        channels, cells, prune_number = TE_NAS.get(s.space, TE_NAS_DARTS)
        layout = {**(TE_NAS_DARTS_LAYOUT if s.space not in TE_NAS and not s.cells else {}), **TE_NAS_OPS}
        cfg = NetConfig.from_dict(dict(channels=s.channels or channels, cells=s.cells or cells,
                                       num_classes=ctx.num_classes, mixing=s.mixing, input_size=ctx.input_size,
                                       **layout))
        self.state, self.cfg = ctx.space.new_state(), cfg
        torch.manual_seed(self._init_seed(s, 0))
        self.supernet = ctx.space.build_supernet(self.state, cfg).to(ctx.device)
        self.size = {"channels": cfg.channels, "cells": cfg.cells, **json_safe(layout)}
        if s.channels_last:
            self.supernet = self.supernet.to(memory_format=torch.channels_last)
        self.thin: torch.nn.Module | None = None
        self.patches: list[torch.Tensor] = []
        if self.settings.tenas_regions == "patches":
            thin = {**TE_NAS_THIN.get(s.space, TE_NAS_THIN_DARTS), "stem": False}
            self.thin_cfg = NetConfig.from_dict(dict(num_classes=ctx.num_classes, mixing=s.mixing,
                                                     input_size=TE_NAS_PATCHES[2], **thin, **TE_NAS_OPS))
            torch.manual_seed(self._init_seed(s, 0, thin=True))
            self.thin = ctx.space.build_supernet(self.state, self.thin_cfg).to(ctx.device).train()
            self.size["thin"] = json_safe(thin)
        self.saved = ctx.folder.read_jsonl(ROUNDS, keys=("phase", "pairs", "pruned", "seconds")) \
            if ctx.folder.resumed else []
        if not ctx.folder.resumed and ctx.folder.writes:
            ctx.folder.path(ROUNDS).unlink(missing_ok=True)
        ctx.carry(sum(float(r["seconds"]) for r in self.saved))
        self.rounds: list[dict[str, Any]] = []
        self.prune_number = self.settings.prune_number or prune_number

    @contextmanager
    def measurer(self, ctx: SearchContext) -> Iterator[Measure]:
        """(kappa, R) of the supernet as the arch state stands, on a batch of inputs (R with --tenas-regions
        patches: TE-NAS's count on the thin copy over the round's crops)."""
        thin = self.thin
        regions = None if thin is None else (lambda x: activation_patterns(thin, self.patches))
        tenas = Tenas(bn_mode="batch", lr_length=self.settings.tenas_lr_length)
        with tenas.measure_session(self.supernet, regions) as measure:
            yield measure

    @staticmethod
    def _init_seed(s: SearchConfig, k: int, thin: bool = False) -> int:
        """Seed of initialisation k of the supernet's (or the thin copy's) weights (k=0: as built)."""
        which = 2 if thin else 1
        return derive_seed(s.seed, seeds.TENAS_PRUNE, 0, which, *((k,) if k else ()))

    def _reinit(self, ctx: SearchContext, k: int) -> None:
        """Give the supernet (and the thin copy) initialisation k in place (hooks and memory layout stay)."""
        torch.manual_seed(self._init_seed(ctx.settings, k))
        fresh = ctx.space.build_supernet(ctx.space.new_state(), self.cfg)
        self.supernet.load_state_dict(fresh.state_dict())
        if self.thin is not None:
            torch.manual_seed(self._init_seed(ctx.settings, k, thin=True))
            self.thin.load_state_dict(ctx.space.build_supernet(ctx.space.new_state(), self.thin_cfg).state_dict())

    def _measure_all(self, ctx: SearchContext, measure: Measure, x: torch.Tensor, phase: str,
                     pairs: list[tuple[str, str]]) -> tuple[list[TenasMeasure], list[float]]:
        """(kappa, R) of every removal and its rank score (higher: ranks better). With one initialisation and
        average ranks, the raw kappa and R; otherwise kappa / kappa_N and R / R_N relative to the unpruned
        supernet's, averaged over the K initialisations of --tenas-repeat (--tenas-ranks te-nas: ranked as the
        TE-NAS code ranks them, `te_nas_rank_combine`)."""
        state = self.state

        def removals() -> list[TenasMeasure]:
            out = []
            for owner, item in pairs:
                with (state.perturb(owner, item) if phase == "op" else state.without_edge(item)):
                    out.append(measure(x))
            return out

        if self.settings.tenas_repeat == 1 and self.settings.tenas_ranks == "average":
            raw = removals()
            return raw, rank_combine(raw)
        kappa, regions = [], []  # per initialisation: each removal's ratio to the unpruned supernet's
        for k in range(self.settings.tenas_repeat):
            if self.settings.tenas_repeat > 1:
                self._reinit(ctx, k)
            base = measure(x)
            ms = removals()
            kappa.append([m.ntk_cond / base.ntk_cond for m in ms])
            regions.append([m.regions / base.regions for m in ms])
        means = [TenasMeasure(float(a), float(b)) for a, b in zip(np.mean(kappa, 0), np.mean(regions, 0))]
        return means, rank_combine(means) if self.settings.tenas_ranks == "average" else te_nas_rank_combine(kappa, regions)

    def _batch(self, ctx: SearchContext, r: int) -> torch.Tensor:
        """Round r's minibatch; with a thin copy, also its crops (TE-NAS draws them per measure; one set per round
        compares every removal on the same inputs)."""
        s = ctx.settings
        if self.thin is not None:
            batches, per_batch, side = TE_NAS_PATCHES
            seed = derive_seed(s.seed, seeds.TENAS_PRUNE, r + 1, 1)
            crops = random_patches(ctx.dataset, batches * per_batch, side, seed)
            self.patches = [c.to(ctx.device) for c in crops.split(per_batch)]
        return BatchStream(ctx.dataset, s.batch_size, derive_seed(s.seed, seeds.TENAS_PRUNE, r + 1), ctx.device,
                           s.channels_last).next()[0]

    def _round(self, ctx: SearchContext, measure: Measure, phase: str,
                pairs: list[tuple[str, str]], keep: int = 0) -> dict[str, Any]:
        """One pruning round over `pairs` (edge, op) or (node, input edge): measure every removal, then prune
        the best-ranked op per edge ('op'), or all but the `keep` worst-ranked inputs of the node ('topology')."""
        r = len(self.rounds)
        if r < len(self.saved):
            row = self.saved[r]
            want = {"phase": phase, "pairs": [list(p) for p in pairs], "supernet": self.size}
            differ = [k for k, v in want.items() if row.get(k) != v]
            if differ:
                raise RunFolderError(f"cannot resume {ctx.folder.root}: {ROUNDS} round {r} has another "
                                     f"{' and '.join(differ)} than this search (started by other code); delete "
                                     f"{ctx.folder.path(ROUNDS)} to redo it")
            return row
        t0 = time.perf_counter()
        measures, ranks = self._measure_all(ctx, measure, self._batch(ctx, r), phase, pairs)  # higher: better
        if phase == "op":
            pruned = self._best_per_edge(pairs, ranks)
        else:
            order = sorted(range(len(pairs)), key=lambda k: -ranks[k])  # stable: earlier edge first on ties
            pruned = [list(pairs[k]) for k in sorted(order[:len(pairs) - keep])]
        row = {"round": r, "phase": phase, "supernet": self.size, "pairs": [list(p) for p in pairs],
               "ntk_cond": [m.ntk_cond for m in measures], "regions": [m.regions for m in measures], "ranks": ranks,
               "pruned": pruned, "seconds": time.perf_counter() - t0}
        if ctx.folder.writes:
            append_line(ctx.folder.path(ROUNDS), json.dumps(json_safe(row)))
        log.info("tenas round %d (%s): pruned %s (%.1fs)", r, phase, row["pruned"], row["seconds"])
        return row

    def _best_per_edge(self, pairs: list[tuple[str, str]], ranks: list[float]) -> list[list[str]]:
        """On every edge, the `prune_number` ops (all but one at most) whose removal ranks best; ties: earlier op."""
        by_edge: dict[str, list[tuple[float, int, str]]] = {}
        for k, ((edge, op), rank) in enumerate(zip(pairs, ranks)):
            by_edge.setdefault(edge, []).append((-rank, k, op))
        pruned = []
        for edge, ops in by_edge.items():
            chosen = sorted(ops)[:min(self.prune_number, len(ops) - 1)]
            pruned += [[edge, op] for _, _, op in sorted(chosen, key=lambda t: t[1])]
        return pruned

    def propose(self, ctx: SearchContext) -> list[str]:
        state, space = self.state, ctx.space
        log.info("search %s: strategy=tenas space=%s batch=%d prune_number=%d seed=%d", ctx.folder.root,
                 ctx.settings.space, ctx.settings.batch_size, self.prune_number, ctx.settings.seed)
        for e in state.edge_ids():  # TE-NAS prunes 'none' before the first round
            if "none" in state.active(e) and len(state.active(e)) > 1:
                state.remove(e, "none")
        with self.measurer(ctx) as measure:
            while any(len(state.active(e)) > 1 for e in state.edge_ids()):
                pairs = [(e, o) for e in state.edge_ids() if len(state.active(e)) > 1 for o in state.active(e)]
                row = self._round(ctx, measure, "op", pairs)
                for e, o in row["pruned"]:
                    state.remove(e, o)
                self.rounds.append(row)
            for e in state.edge_ids():
                state.decide(e, state.active(e)[0])
            for g in space.topology_groups():
                live = [e for e in g.edges if state.active(e)]
                if len(live) <= g.keep:
                    continue
                row = self._round(ctx, measure, "topology", [(g.node, e) for e in live], g.keep)
                for _, e in row["pruned"]:
                    state.set_active(e, ())
                self.rounds.append(row)
        return [space.format_genotype(space.genotype_from_state(state))]

    def validate(self, ctx: SearchContext, candidates: list[str]) -> dict[str, float]:
        """One candidate, nothing to validate: its score is 0."""
        return {g: 0.0 for g in candidates}

    def details(self, ctx: SearchContext) -> dict[str, Any]:
        return {"rounds": len(self.rounds), "batch_size": ctx.settings.batch_size, "prune_number": self.prune_number,
                "supernet": self.size, "regions": self.settings.tenas_regions,
                "lr_length": self.settings.tenas_lr_length,
                "repeat": self.settings.tenas_repeat, "ranks": self.settings.tenas_ranks,
                "measurements": sum(len(r["pairs"]) for r in self.rounds),
                "round_seconds": [r["seconds"] for r in self.rounds]}
