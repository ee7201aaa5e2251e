"""`opscore proxies`: rank correlation of every proxy with a benchmark's accuracies (Abdelfattah et al.
2021, Table 1 protocol on a sample).

K architectures are drawn (seeded, without replacement) from the benchmark table's rows; each is built
as a freshly initialised stand-alone network (seeded per architecture, so every proxy scores the same
weights) and scored by every chosen proxy on the same minibatch(es); a proxy's score over several
batches is the mean. Spearman's rho and Kendall's tau (signed: every proxy is oriented higher = better)
are computed with the NaN rule of `correlation`. For tenas the two TE-NAS components are written as well,
and `tenas_ranks` is the paper's own combination over the sample (sum of the kappa and R ranks); with
several batches the components are averaged over the batches first.

Run directory: config.yaml, scores.csv (arch, one column per proxy, the accuracy), result.json
({"spearman": {proxy: rho}, "kendall": {proxy: tau}, "seconds_per_arch": {proxy: s}, ...}),
proxies.png (one scatter plot per proxy).
"""
from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from tqdm import tqdm

from scoring.proxies import get_proxy
from scoring.proxies.tenas import TenasMeasure, Tenas, rank_combine
from supernet.spaces import get_space
from supernet.spaces.base import NetConfig
from train_final.rundir import atomic_write_json, atomic_write_text

from ..batches import Batch, derive_seed
from ..benchmarks import CsvBenchmark
from ..config import ConfigError
from ..zcpt import resolve_device
from .common import parse_proxies, prepare_run_dir, scoring_batches, write_csv
from .correlation import kendall, spearman
from .plots import scatter_grid

log = logging.getLogger(__name__)

_SAMPLE, _INIT, _DATA = 41, 42, 43  # seed streams


@dataclass
class ProxyStudyConfig:
    """Settings of `opscore proxies` (flags use these names with dashes)."""

    space: str = "nb201"
    sample: int = 200
    proxies: str = "all"
    seed: int = 0
    batch_size: int = 64
    batches: int = 1
    dataset: str = "cifar10"
    data_root: str | None = None
    download: bool = False
    benchmark_table: str | None = None
    metric: str | None = None     # accuracy column of the table (its first one by default)
    bn_mode: str = "batch"
    device: str = "auto"
    channels: int | None = None   # stand-alone network width (space default when unset)
    cells: int | None = None      # stand-alone network depth (space default when unset)
    out: str | None = None

    def validate(self) -> "ProxyStudyConfig":
        """Range checks that need no registry."""
        if self.sample < 2:
            raise ConfigError(f"--sample must be at least 2 architectures, got {self.sample}")
        if self.batches < 1:
            raise ConfigError(f"--batches must be at least 1, got {self.batches}")
        if self.bn_mode not in ("batch", "eval"):
            raise ConfigError(f"bn_mode must be 'batch' or 'eval', got {self.bn_mode!r}")
        if not self.benchmark_table:
            raise ConfigError("opscore proxies needs --benchmark-table CSV (columns arch and accuracies)")
        return self


def sample_archs(bench: CsvBenchmark, k: int, seed: int) -> list[str]:
    """k architectures of the table, drawn uniformly without replacement, in draw order."""
    archs = list(bench.rows)
    if k > len(archs):
        raise ConfigError(f"--sample {k} exceeds the {len(archs)} architectures of {bench.path}")
    rng = np.random.default_rng(derive_seed(seed, _SAMPLE))
    return [archs[i] for i in rng.choice(len(archs), size=k, replace=False)]


def _score_tenas(proxy: Tenas, net: torch.nn.Module, batches: list[Batch]) -> TenasMeasure:
    """Both TE-NAS components of `net`, averaged over the batches."""
    with proxy.measure_session(net) as measure:
        ms = [measure(x) for x, _ in batches]
    return TenasMeasure(float(np.mean([m.ntk_cond for m in ms])), float(np.mean([m.regions for m in ms])))


def run_proxy_study(cfg: ProxyStudyConfig, out: str | Path, progress: bool = True) -> dict[str, Any]:
    """Score K sampled architectures with every chosen proxy; write the run directory; return result.json."""
    t_start = time.perf_counter()
    space = get_space(cfg.space)
    names = parse_proxies(cfg.proxies)
    proxies = {n: get_proxy(n, bn_mode=cfg.bn_mode) for n in names}
    bench = CsvBenchmark(cfg.benchmark_table)  # type: ignore[arg-type]
    metric = cfg.metric or bench.columns[0]
    if metric not in bench.columns:
        raise ConfigError(f"--metric {metric!r} is not a column of {bench.path} (columns: {', '.join(bench.columns)})")
    archs = sample_archs(bench, cfg.sample, cfg.seed)
    genotypes = [space.parse_genotype(a) for a in archs]
    device = resolve_device(cfg.device)
    batches, num_classes = scoring_batches(cfg.dataset, cfg.data_root, cfg.download, cfg.batch_size, cfg.batches,
                                           derive_seed(cfg.seed, _DATA), device)
    run_dir = prepare_run_dir(out)
    atomic_write_text(run_dir / "config.yaml", yaml.safe_dump(asdict(cfg), sort_keys=False))
    base = space.default_net_config("validation")
    net_cfg = NetConfig(channels=cfg.channels or base.channels, cells=cfg.cells or base.cells, num_classes=num_classes)

    scores: dict[str, list[float]] = {n: [] for n in names}
    tenas_parts: list[TenasMeasure] = []
    seconds: dict[str, float] = {n: 0.0 for n in names}
    for i, (arch, genotype) in enumerate(tqdm(list(zip(archs, genotypes)), desc="architectures",
                                              disable=not progress)):
        torch.manual_seed(derive_seed(cfg.seed, _INIT, i))
        net = space.build_network(genotype, net_cfg).to(device)
        for n, proxy in proxies.items():
            t0 = time.perf_counter()
            if isinstance(proxy, Tenas):
                m = _score_tenas(proxy, net, batches)
                tenas_parts.append(m)
                value = m.score
            else:
                with proxy.session(net) as ev:
                    value = float(np.mean([ev(x, y) for x, y in batches]))
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            seconds[n] += time.perf_counter() - t0
            scores[n].append(value)
        log.debug("%s: %s", arch, {n: scores[n][-1] for n in names})
        del net

    columns = dict(scores)
    if tenas_parts:
        columns["tenas_ranks"] = rank_combine(tenas_parts)
    acc = [bench.rows[a][metric] for a in archs]
    result: dict[str, Any] = {
        "spearman": {n: spearman(v, acc) for n, v in columns.items()},
        "kendall": {n: kendall(v, acc) for n, v in columns.items()},
        "seconds_per_arch": {n: s / len(archs) for n, s in seconds.items()},
        "nan_scores": {n: int(sum(math.isnan(x) for x in v)) for n, v in columns.items()},
        "space": cfg.space, "sample": len(archs), "seed": cfg.seed, "batch_size": cfg.batch_size,
        "batches": cfg.batches, "bn_mode": cfg.bn_mode, "metric": metric, "benchmark_table": str(bench.path),
        "network": {"channels": net_cfg.channels, "cells": net_cfg.cells, "num_classes": num_classes},
        "device": str(device),
    }
    header = ["arch", *names]
    extra: list[list[float]] = []
    if tenas_parts:
        header += ["tenas_ntk_cond", "tenas_regions", "tenas_ranks"]
        extra = [[m.ntk_cond, float(m.regions), r] for m, r in zip(tenas_parts, columns["tenas_ranks"])]
    header.append(metric)
    rows = [[a, *[scores[n][i] for n in names], *(extra[i] if extra else []), acc[i]] for i, a in enumerate(archs)]
    write_csv(run_dir / "scores.csv", header, rows)
    titles = {n: f"{n}: rho={result['spearman'][n]:.3f} tau={result['kendall'][n]:.3f}" for n in columns}
    scatter_grid(run_dir / "proxies.png", columns, acc, metric, titles)
    result["seconds"] = time.perf_counter() - t_start
    atomic_write_json(run_dir / "result.json", result)
    log.info("proxies on %d archs: %s", len(archs), {n: round(v, 3) for n, v in result["spearman"].items()})
    return result
