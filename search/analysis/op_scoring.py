"""`opscore analyze op-scoring`: how well each operation scorer ranks the ops of every edge of the
untrained supernet A_0 (Xiang et al. 2023, Figure 2 left).

For each seed: the supernet A_0 is built as `opscore search` builds it for that seed (same init stream,
same default BN mode),
one seeded minibatch is drawn, and every (edge, op) is scored by zc-pt and disc-zc with each chosen proxy
and by darts-alpha with alphas at initialisation, drawn as DARTS draws them, alpha = 1e-3 * N(0, 1)
(seeded per seed; darts-alpha's score is softmax(alpha), which orders ops as alpha does). With
`--supernet` (a supernet trained by `opscore train-supernet`), the training-based scorers join them:
darts-alpha(trained) (the trained alphas), darts-pt and disc-acc (validation accuracy of the trained
supernet with the op removed / alone); their scores do not depend on the seed. Scores are
oriented so that higher means "keep" (scoring.selection.orient).

Oracles from the benchmark table: best-acc(e, o) = the best accuracy of any architecture with op o on
edge e, avg-acc(e, o) = their mean. For every seed, scorer and edge, Spearman's rho between the
keep-scores and the oracle over the edge's ops; the figure reported is the mean over edges and seeds of
the defined values (a scorer constant on an edge has no rho there; `undefined` counts those cases).

Run directory: config.yaml, op_scores.csv (seed, scorer, edge, op, raw and keep score, both oracles),
op_scoring.csv (scorer, best-acc, avg-acc, defined cases), result.json
({"best-acc": {scorer: rho}, "avg-acc": {scorer: rho}, "per_seed": ..., ...}), op_scoring.png.
"""
from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from runtime.settings import setting
from scoring.proxies import get_proxy
from scoring.scorers import SCORERS, ScoringContext
from scoring.selection import orient
from supernet.arch_state import ArchState
from supernet.spaces import get_space
from supernet.spaces.space import NetConfig, SearchSpace
from runtime.device import resolve_device
from runtime.rundir import RunFolder
from runtime.seeds import OP_SCORING_ALPHA, OP_SCORING_DATA, SUPERNET_INIT, derive_seed
from runtime.data import DataSpec
from runtime.image_check import BAD_IMAGE_POLICIES, BAD_IMAGES_HELP

from ..batches import Batch
from ..benchmarks import CsvBenchmark
from ..config import BN_MODES, ZCPT_BN_MODE, ConfigError
from ..supernet_train.loading import SupernetSource, load_for_search
from .common import parse_names, parse_proxies, parse_seeds, scoring_batches, write_csv
from .correlation import mean_defined, spearman
from .plots import grouped_bars

log = logging.getLogger(__name__)

ORACLES = ("best-acc", "avg-acc")
PROXY_SCORERS = ("zc-pt", "disc-zc")
TRAINED_SCORERS = {"darts-alpha(trained)": "darts-alpha", "darts-pt": "darts-pt", "disc-acc": "disc-acc"}
Scores = dict[str, dict[str, float]]  # edge -> op -> score


@dataclass
class OpScoringConfig:
    """Settings of `opscore analyze op-scoring` (flags use these names with dashes)."""

    space: str = setting("nb201", "search space (opscore list)")
    proxies: str = setting("nwot,synflow", "comma list of proxies or 'all'")
    scorers: str = setting("zc-pt,disc-zc", "proxy scorers, comma list of zc-pt, disc-zc")
    seeds: str = setting("0,1,2,3", "comma list of seeds")
    batch_size: int = setting(64, "minibatch size", minimum=2)
    dataset: str = setting("cifar10", "cifar10 | cifar100 | imagefolder | imagenet | synthetic")
    data_root: str | None = setting(None, "data folder (for imagefolder: class subfolders, or train/ and test/)",
                                    path=True)
    download: bool = setting(False, "allow downloading CIFAR")
    bad_images: str = setting("fail", BAD_IMAGES_HELP, choices=BAD_IMAGE_POLICIES)
    benchmark_table: str | None = setting(None, "CSV with columns arch + accuracies (e.g. NB201)", path=True)
    metric: str | None = setting(None, "accuracy column of the table (default: its first)")
    bn_mode: str = setting(ZCPT_BN_MODE, "BN statistics while scoring, as opscore search scores A_0",
                           choices=BN_MODES)
    device: str = setting("auto", "auto (CUDA when present) | cpu | cuda | cuda:N")
    channels: int | None = setting(None, "supernet width (default: the space's)", minimum=1)
    cells: int | None = setting(None, "supernet depth (default: the space's)", minimum=1)
    darts_alpha: bool = setting(True, "score darts-alpha (alphas at initialisation) too")
    supernet: str | None = setting(None, "trained supernet RUN_DIR/supernet.pt (opscore train-supernet, same space and "
                                         "data): adds darts-alpha(trained), darts-pt and disc-acc", path=True)
    accuracy_batches: int | None = setting(None, "darts-pt/disc-acc: validation minibatches for accuracy (default: "
                                                 "the whole held-out half)")
    out: str | None = setting(None, "run directory (default: runs/op-scoring-<time>)")

    def validate(self) -> "OpScoringConfig":
        """Range checks that need no registry."""
        if self.bn_mode not in ("batch", "eval"):
            raise ConfigError(f"bn_mode must be 'batch' or 'eval', got {self.bn_mode!r}")
        parse_seeds(self.seeds)
        if not self.benchmark_table:
            raise ConfigError("opscore analyze op-scoring needs --benchmark-table CSV (columns arch and accuracies)")
        if self.accuracy_batches is not None and self.accuracy_batches < 1:
            raise ConfigError(f"--accuracy-batches must be at least 1, got {self.accuracy_batches}")
        return self


def edge_ops(space: SearchSpace, genotype: Any) -> dict[str, str]:
    """Edge -> op of a genotype that lists one op per edge in the space's edge order (nb201)."""
    edges = list(space.candidates())
    ops = getattr(genotype, "ops", None)
    if ops is None or len(ops) != len(edges):
        raise ConfigError(f"op-scoring needs a space whose genotype has one op per edge (e.g. nb201); "
                          f"{space.name!r} does not")
    return dict(zip(edges, ops))


def oracles(space: SearchSpace, bench: CsvBenchmark, metric: str) -> dict[str, Scores]:
    """best-acc and avg-acc per (edge, op) over every architecture of the table."""
    seen: dict[str, dict[str, list[float]]] = {e: {o: [] for o in ops} for e, ops in space.candidates().items()}
    for arch, row in bench.rows.items():
        for e, o in edge_ops(space, space.parse_genotype(arch)).items():
            seen[e][o].append(row[metric])
    missing = [f"{e}:{o}" for e, ops in seen.items() for o, v in ops.items() if not v]
    if missing:
        raise ConfigError(f"benchmark table {bench.path} has no architecture with {', '.join(missing[:5])}")
    return {"best-acc": {e: {o: max(v) for o, v in ops.items()} for e, ops in seen.items()},
            "avg-acc": {e: {o: float(np.mean(v)) for o, v in ops.items()} for e, ops in seen.items()}}


def edge_correlations(keep: Scores, oracle: Scores) -> list[float]:
    """Spearman's rho per edge between keep-scores and an oracle, over the ops both score."""
    out = []
    for e, scores in keep.items():
        ops = [o for o in scores if o in oracle[e]]
        out.append(spearman([scores[o] for o in ops], [oracle[e][o] for o in ops]))
    return out


def darts_alpha_scores(space: SearchSpace, state: ArchState, supernet: torch.nn.Module, seed: int) -> Scores:
    """darts-alpha raw scores of A_0 with alphas drawn as DARTS initialises them (1e-3 * randn)."""
    g = torch.Generator().manual_seed(derive_seed(seed, OP_SCORING_ALPHA))
    saved = dict(state.alphas)
    try:
        for e in state.edge_ids():
            state.alphas[e] = 1e-3 * torch.randn(len(state.candidates(e)), generator=g)
        scorer = SCORERS.create("darts-alpha", ctx=ScoringContext(space, supernet, state, None))
        with scorer.session():
            return {e: scorer.score_edge(e, (torch.empty(0), torch.empty(0))) for e in state.edge_ids()}
    finally:
        state.alphas.clear()
        state.alphas.update(saved)


def proxy_scores(space: SearchSpace, state: ArchState, supernet: torch.nn.Module, scorer_name: str,
                 proxy_name: str, bn_mode: str, batch: Batch) -> Scores:
    """Raw scores of every (edge, op) of A_0 by one proxy scorer."""
    proxy = get_proxy(proxy_name, bn_mode=bn_mode)
    scorer = SCORERS.create(scorer_name, ctx=ScoringContext(space, supernet, state, proxy))
    with scorer.session():
        return {e: scorer.score_edge(e, batch) for e in state.edge_ids()}


def trained_scores(cfg: OpScoringConfig, space: SearchSpace, device: torch.device,
                   num_classes: int) -> dict[str, tuple[Scores, str]]:
    """Raw scores and direction of every (edge, op) of the trained supernet `cfg.supernet` by the
    training-based scorers: its trained alphas (darts-alpha), and its validation accuracy with the op
    removed (darts-pt) or alone (disc-acc). No decision is made, so nothing is fine-tuned."""
    data = DataSpec(cfg.dataset, cfg.data_root, cfg.download, bad_images=cfg.bad_images)
    src = SupernetSource(path=str(cfg.supernet), space=cfg.space, data=data,
                         batch_size=cfg.batch_size, bn_mode=cfg.bn_mode, channels=cfg.channels, cells=cfg.cells,
                         accuracy_batches=cfg.accuracy_batches)
    loaded = load_for_search(src, space, device, num_classes)
    out: dict[str, tuple[Scores, str]] = {}
    for name, scorer_name in TRAINED_SCORERS.items():
        ctx = ScoringContext(space, loaded.supernet, loaded.state, None, trained=loaded.tuner)
        scorer = SCORERS.create(scorer_name, ctx=ctx)
        with scorer.session():
            raw = {e: scorer.score_edge(e, (torch.empty(0), torch.empty(0))) for e in loaded.state.edge_ids()}
        out[name] = (raw, SCORERS.get(scorer_name).direction)
        log.info("%s scored on the trained supernet %s", name, cfg.supernet)
    return out


def run_op_scoring(cfg: OpScoringConfig, out: str | Path, progress: bool = True) -> dict[str, Any]:
    """The Figure 2 (left) experiment; writes the run directory and returns result.json's content."""
    t_start = time.perf_counter()
    space = get_space(cfg.space)
    proxies = parse_proxies(cfg.proxies)
    scorer_names = parse_names(cfg.scorers, list(PROXY_SCORERS), "proxy scorer")
    seeds = parse_seeds(cfg.seeds)
    bench = CsvBenchmark(cfg.benchmark_table)  # type: ignore[arg-type]
    metric = cfg.metric or bench.columns[0]
    if metric not in bench.columns:
        raise ConfigError(f"--metric {metric!r} is not a column of {bench.path} (columns: {', '.join(bench.columns)})")
    oracle = oracles(space, bench, metric)
    device = resolve_device(cfg.device)
    folder = RunFolder.open(out, asdict(cfg), resume=False, markers=("result.json",), resumable=False)
    base = space.default_net_config("supernet")

    names = [f"{s}({p})" for p in proxies for s in scorer_names] + (["darts-alpha"] if cfg.darts_alpha else [])
    names += list(TRAINED_SCORERS) if cfg.supernet else []
    trained: dict[str, tuple[Scores, str]] | None = None  # seed-independent: scored once
    per_seed: dict[str, dict[str, dict[int, float]]] = {o: {n: {} for n in names} for o in ORACLES}
    pooled: dict[str, dict[str, list[float]]] = {o: {n: [] for n in names} for o in ORACLES}
    rows: list[list[Any]] = []
    spec = DataSpec(cfg.dataset, cfg.data_root, cfg.download, bad_images=cfg.bad_images)
    for seed in tqdm(seeds, desc="seeds", disable=not progress):
        (batch,), num_classes = scoring_batches(spec, cfg.batch_size, 1, derive_seed(seed, OP_SCORING_DATA), device)
        if spec.bad_images == "fail":  # the images were checked: the next seeds need not decode them again
            spec = replace(spec, bad_images="off")
        state = space.new_state()
        net_cfg = NetConfig(channels=cfg.channels or base.channels, cells=cfg.cells or base.cells,
                            num_classes=num_classes)
        torch.manual_seed(derive_seed(seed, SUPERNET_INIT))  # as `opscore search` builds A_0 (search.factory)
        supernet = space.build_supernet(state, net_cfg).to(device)
        if cfg.supernet and trained is None:
            trained = trained_scores(cfg, space, device, num_classes)
        for name in names:
            if trained is not None and name in trained:
                raw, direction = trained[name]
            elif name == "darts-alpha":
                raw, direction = darts_alpha_scores(space, state, supernet, seed), SCORERS.get("darts-alpha").direction
            else:
                scorer_name, proxy_name = name[:-1].split("(")
                raw = proxy_scores(space, state, supernet, scorer_name, proxy_name, cfg.bn_mode, batch)
                direction = SCORERS.get(scorer_name).direction
            keep = {e: orient(s, direction) for e, s in raw.items()}
            for o in ORACLES:
                rhos = edge_correlations(keep, oracle[o])
                pooled[o][name].extend(rhos)
                per_seed[o][name][seed] = mean_defined(rhos)[0]
            rows += [[seed, name, e, op, raw[e][op], keep[e][op], oracle["best-acc"][e][op], oracle["avg-acc"][e][op]]
                     for e in keep for op in keep[e]]
            log.info("seed %d %s: best-acc rho %.3f", seed, name, per_seed["best-acc"][name][seed])
        del supernet

    summary = {o: {n: mean_defined(v) for n, v in pooled[o].items()} for o in ORACLES}
    result: dict[str, Any] = {o: {n: summary[o][n][0] for n in names} for o in ORACLES}
    result.update({
        "per_seed": {o: {n: {str(s): v for s, v in per_seed[o][n].items()} for n in names} for o in ORACLES},
        "defined": {o: {n: summary[o][n][1] for n in names} for o in ORACLES},
        "undefined": {o: {n: len(pooled[o][n]) - summary[o][n][1] for n in names} for o in ORACLES},
        "space": cfg.space, "seeds": seeds, "batch_size": cfg.batch_size, "bn_mode": cfg.bn_mode,
        "metric": metric, "benchmark_table": str(bench.path),
        "supernet": {"channels": net_cfg.channels, "cells": net_cfg.cells}, "device": str(device),
        "darts_alpha_init": "alpha = 1e-3 * randn per edge (DARTS), softmax weights as scores",
        "trained_supernet": cfg.supernet,
    })
    write_csv(folder.path("op_scores.csv"), ["seed", "scorer", "edge", "op", "raw", "keep", "best-acc", "avg-acc"], rows)
    write_csv(folder.path("op_scoring.csv"), ["scorer", *ORACLES, "edges_defined"],
              [[n, result["best-acc"][n], result["avg-acc"][n], result["defined"]["best-acc"][n]] for n in names])
    grouped_bars(folder.path("op_scoring.png"), {o: result[o] for o in ORACLES},
                 "Spearman rho (mean over edges and seeds)", f"op scoring on {cfg.space} A_0, seeds {cfg.seeds}")
    result["seconds"] = time.perf_counter() - t_start
    folder.finish(result)
    return result
