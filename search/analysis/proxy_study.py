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
proxies.png (one scatter plot per proxy), and progress.jsonl: one line per scored architecture, appended
and synced as it finishes, from which `resume=True` continues a killed run (every architecture's weights
and batches are seeded by its index, so a resumed study equals an uninterrupted one).
"""
from __future__ import annotations

import dataclasses

import json
import logging
import math
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from runtime.device import resolve_device
from runtime.io import append_line, read_journal
from runtime.rundir import RunFolder
from runtime.seeds import SEED_MAX, PROXIES_DATA, PROXIES_INIT, PROXIES_SAMPLE, derive_seed
from runtime.settings import schema_of, setting
from scoring.proxies import get_proxy
from scoring.proxies.tenas import TenasMeasure, Tenas, rank_combine
from supernet.spaces import get_space
from supernet.spaces.space import NetConfig
from runtime.data import DataSpec, build_dataset
from runtime.image_check import BAD_IMAGE_POLICIES, BAD_IMAGES_HELP

from ..batches import Batch
from ..benchmarks import CsvBenchmark
from ..config import BN_MODES, ConfigError
from ..plugins import refuse_unused
from ..validators import VALIDATORS, ValidationContext, ValidatorSettings, build_validator
from .common import parse_names, parse_proxies, scoring_batches, write_csv
from .correlation import kendall, spearman
from .plots import scatter_grid

log = logging.getLogger(__name__)


def training_validators() -> list[str]:
    """The registered validators that train (the ones `--validators` offers; the proxy sum is the proxy columns)."""
    return [n for n in VALIDATORS.names() if not VALIDATORS.get(n).needs_proxy]


@dataclass
class ProxyStudyConfig(ValidatorSettings):
    """Settings of `opscore proxies` (flags use these names with dashes)."""

    space: str = setting("nb201", "search space (opscore list)")
    sample: int = setting(200, "number K of architectures sampled from the table")
    proxies: str = setting("all", "comma list of proxies or 'all' (opscore list)")
    validator: str = setting("proxy", "not used here (see --validators)", flag=False)
    validators: str = setting("", "comma list of training validators ranked beside the proxies: tse, tse-e, "
                                  "tse-ema, fear (their --val-* / --tse-* / --fear-* settings apply; default: none)")
    seed: int = setting(0, "random seed of the sample, the weights and the batches", minimum=0,
                             maximum=SEED_MAX)
    batch_size: int = setting(64, "minibatch size", minimum=2)
    batches: int = setting(1, "minibatches per score (mean over them)")
    dataset: str = setting("cifar10", "cifar10 | cifar100 | imagefolder | imagenet | synthetic")
    data_root: str | None = setting(None, "data folder (for imagefolder: class subfolders, or train/ and test/)",
                                    path=True)
    download: bool = setting(False, "allow downloading CIFAR")
    bad_images: str = setting("fail", BAD_IMAGES_HELP, choices=BAD_IMAGE_POLICIES)
    benchmark_table: str | None = setting(None, "CSV with columns arch + accuracies (e.g. NB201)", path=True)
    metric: str | None = setting(None, "accuracy column of the table (default: its first)")
    bn_mode: str = setting("batch", "BN statistics while scoring", choices=BN_MODES)
    device: str = setting("auto", "auto (CUDA when present) | cpu | cuda | cuda:N")
    channels: int | None = setting(None, "stand-alone network width (default: the space's)", minimum=1)
    cells: int | None = setting(None, "stand-alone network depth (default: the space's)", minimum=1)
    out: str | None = setting(None, "run directory (default: runs/proxies-<time>)")

    def validators_in_use(self) -> list[str]:
        """The training validators of --validators ('all': every one that trains)."""
        if self.validators.strip() == "all":
            return training_validators()
        return [n.strip() for n in self.validators.split(",") if n.strip()]

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
        ValidatorSettings.validate(self)
        refuse_unused(dataclasses.asdict(self), "validator", self.validators_in_use(),
                      "drop it or name a validator that takes it in --validators")
        return self


def sample_archs(bench: CsvBenchmark, k: int, seed: int) -> list[str]:
    """k architectures of the table, drawn uniformly without replacement, in draw order."""
    archs = list(bench.rows)
    if k > len(archs):
        raise ConfigError(f"--sample {k} exceeds the {len(archs)} architectures of {bench.path}")
    rng = np.random.default_rng(derive_seed(seed, PROXIES_SAMPLE))
    return [archs[i] for i in rng.choice(len(archs), size=k, replace=False)]


def _score_tenas(proxy: Tenas, net: torch.nn.Module, batches: list[Batch]) -> TenasMeasure:
    """Both TE-NAS components of `net`, averaged over the batches."""
    with proxy.measure_session(net) as measure:
        ms = [measure(x) for x, _ in batches]
    return TenasMeasure(float(np.mean([m.ntk_cond for m in ms])), float(np.mean([m.regions for m in ms])))


_PROGRESS = "progress.jsonl"


def _load_progress(path: Path, archs: list[str]) -> list[dict[str, Any]]:
    """The finished architectures of a killed run, in order; a torn last line (killed mid-write) is dropped
    and cut from the file."""
    return read_journal(path, lambda i, row: row.get("index") == i and i < len(archs) and row.get("arch") == archs[i])


def run_proxy_study(cfg: ProxyStudyConfig, out: str | Path, progress: bool = True,
                    resume: bool = False) -> dict[str, Any]:
    """Score K sampled architectures with every chosen proxy; write the run directory; return result.json.
    With `resume`, continue the run in `out` (same settings) from its last finished architecture."""
    t_start = time.perf_counter()
    space = get_space(cfg.space)
    names = parse_proxies(cfg.proxies)
    proxies = {n: get_proxy(n, bn_mode=cfg.bn_mode) for n in names}
    vnames = parse_names(cfg.validators, training_validators(), "validator") if cfg.validators.strip() else []
    validators = {n: build_validator(n, dataclasses.asdict(cfg)) for n in vnames}
    bench = CsvBenchmark(cfg.benchmark_table)  # type: ignore[arg-type]
    metric = cfg.metric or bench.columns[0]
    if metric not in bench.columns:
        raise ConfigError(f"--metric {metric!r} is not a column of {bench.path} (columns: {', '.join(bench.columns)})")
    archs = sample_archs(bench, cfg.sample, cfg.seed)
    genotypes = [space.parse_genotype(a) for a in archs]
    device = resolve_device(cfg.device)
    spec = DataSpec(cfg.dataset, cfg.data_root, cfg.download, bad_images=cfg.bad_images)
    batches, num_classes = scoring_batches(spec, cfg.batch_size, cfg.batches,
                                           derive_seed(cfg.seed, PROXIES_DATA), device)
    run_dir = Path(out)
    if (run_dir / "result.json").exists():  # a finished study is never overwritten, resumed or not
        raise ConfigError(f"run directory {run_dir} already holds a finished result; choose another --out")
    folder = RunFolder.open(run_dir, asdict(cfg), resume=resume, markers=(_PROGRESS,), free=("out", "device"),
                            schema=schema_of(ProxyStudyConfig))
    base = space.default_net_config("validation")
    net_cfg = NetConfig(channels=cfg.channels or base.channels, cells=cfg.cells or base.cells, num_classes=num_classes)
    vctx = None
    if validators:  # they train on the training split, every architecture from the same seed and batches
        checked = replace(spec, bad_images="off" if spec.bad_images == "fail" else spec.bad_images)  # checked above
        train_set = build_dataset(checked, "train", augment=False,
                                  seed=cfg.seed)
        vctx = ValidationContext(space, train_set, num_classes, net_cfg, device, cfg.seed, cfg.batch_size)

    rankers = names + vnames
    scores: dict[str, list[float]] = {n: [] for n in rankers}
    tenas_parts: list[TenasMeasure] = []
    seconds: dict[str, float] = {n: 0.0 for n in rankers}
    done = _load_progress(run_dir / _PROGRESS, archs)
    for n, v in validators.items():  # FEAR's fastest stage 1 so far
        v.restore({row["arch"]: row["details"][n] for row in done})
    for row in done:
        for n in rankers:
            scores[n].append(float(row["scores"][n]))
            seconds[n] += float(row["seconds"][n])
        if row.get("tenas") is not None:
            tenas_parts.append(TenasMeasure(float(row["tenas"][0]), float(row["tenas"][1])))
    if done:
        log.info("resuming %s: %d of %d architectures already scored", run_dir, len(done), len(archs))
    for i, (arch, genotype) in enumerate(tqdm(list(zip(archs, genotypes)), desc="architectures",
                                              disable=not progress, initial=len(done))):
        if i < len(done):
            continue
        torch.manual_seed(derive_seed(cfg.seed, PROXIES_INIT, i))
        arch_seconds: dict[str, float] = {}
        measured: TenasMeasure | None = None
        net = space.build_network(genotype, net_cfg).to(device)
        for n, proxy in proxies.items():
            t0 = time.perf_counter()
            if isinstance(proxy, Tenas):
                measured = _score_tenas(proxy, net, batches)
                tenas_parts.append(measured)
                value = measured.score
            else:
                with proxy.session(net) as ev:
                    value = float(np.mean([ev(x, y) for x, y in batches]))
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            arch_seconds[n] = time.perf_counter() - t0
            seconds[n] += arch_seconds[n]
            scores[n].append(value)
        details = {}
        for n, validator in validators.items():
            t0 = time.perf_counter()
            verdict = validator.score(vctx, arch)  # type: ignore[arg-type]
            arch_seconds[n] = time.perf_counter() - t0
            seconds[n] += arch_seconds[n]
            scores[n].append(verdict.score)
            details[n] = verdict.details
        log.debug("%s: %s", arch, {n: scores[n][-1] for n in rankers})
        tenas = None if measured is None else [measured.ntk_cond, measured.regions]
        row = {"index": i, "arch": arch, "scores": {n: scores[n][-1] for n in rankers}, "seconds": arch_seconds,
               "tenas": tenas, "details": details}
        append_line(folder.path(_PROGRESS), json.dumps(row))
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
    header = ["arch", *rankers]
    extra: list[list[float]] = []
    if tenas_parts:
        header += ["tenas_ntk_cond", "tenas_regions", "tenas_ranks"]
        extra = [[m.ntk_cond, float(m.regions), r] for m, r in zip(tenas_parts, columns["tenas_ranks"])]
    header.append(metric)
    rows = [[a, *[scores[n][i] for n in rankers], *(extra[i] if extra else []), acc[i]] for i, a in enumerate(archs)]
    write_csv(folder.path("scores.csv"), header, rows)
    titles = {n: f"{n}: rho={result['spearman'][n]:.3f} tau={result['kendall'][n]:.3f}" for n in columns}
    scatter_grid(folder.path("proxies.png"), columns, acc, metric, titles)
    result["seconds"] = time.perf_counter() - t_start
    folder.finish(result)
    log.info("proxies on %d archs: %s", len(archs), {n: round(v, 3) for n, v in result["spearman"].items()})
    return result
