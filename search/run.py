"""A complete search run: config -> data -> proposals -> validation -> run directory.

Run directory: config.yaml (resolved), proposals.json (checkpoint, one entry per finished
proposal iteration), proposal_steps.json (checkpoint inside the running iteration: the scores of
each finished decision step, for scorers that keep no state between decisions), decisions.jsonl,
validation.json (checkpoint, the validation total of each candidate scored so far and the seconds
spent), candidates.json (with validation scores), result.json, search.log, tb/ (TensorBoard). Every
file is written atomically; `resume=True` continues from these checkpoints, which reproduces the
uninterrupted run exactly (each iteration has its own seeded batch stream and order RNG, a replayed
step ends with the recorded RNG state, each candidate is validated from the same seed) and counts
the seconds they record in the result's times.
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable

import torch
from tqdm import tqdm

from scoring.proxies import PROXIES
from scoring.scorers import SCORERS
from supernet.mixing import MIXING
from supernet.spaces import get_space
from supernet.spaces.base import NetConfig
from train_final.data import DataSpec, build_dataset, num_classes_of
from train_final.rundir import atomic_write_json, atomic_write_jsonl, read_json

from .batches import BatchStream, derive_seed
from .benchmarks import open_benchmark
from .config import ConfigError, SearchConfig, open_run_dir
from .distributed import Workers
from .factory import build_scoring, scoring_settings
from .orders import ORDERS
from .zcpt import (DecisionLog, Proposal, ReplayMismatch, checkpointed_seconds, choose, propose,
                   resolve_device, validation_scores, _PROPOSAL_STREAM, _VALIDATION_STREAM)

log = logging.getLogger(__name__)

def _prepare_dir(out: Path, cfg: SearchConfig, resume: bool) -> list[Proposal]:
    """Create or reopen the run directory; returns the proposals already finished."""
    open_run_dir(out, cfg.to_dict(), resume, ("proposals.json", "result.json"))
    if (out / "proposals.json").exists():
        return [Proposal(**p) for p in read_json(out / "proposals.json")]
    return []


def _step_checkpoint(path: Path, iteration: int) -> tuple[list[dict], Callable[[dict], None]]:
    """The step records of `iteration` saved by an interrupted run (if any), and the sink that saves them."""
    saved = read_json(path) if path.exists() else {}
    steps: list[dict] = list(saved.get("steps", [])) if saved.get("iteration") == iteration else []
    if steps:
        log.info("proposal %d: resuming after %d recorded decision steps", iteration, len(steps))

    def record(step: dict) -> None:
        steps.append(step)
        atomic_write_json(path, {"iteration": iteration, "steps": steps})
    return list(steps), record


def _read_validation_checkpoint(path: Path) -> tuple[dict[str, float], float]:
    """The validation totals and seconds an interrupted run saved; a file of the earlier plain
    {genotype: total} layout is read as totals with unknown (zero) seconds, so its work is not redone."""
    saved = read_json(path) if path.exists() else {}
    if "totals" not in saved and all(isinstance(v, (int, float)) for v in saved.values()):
        return {g: float(v) for g, v in saved.items()}, 0.0
    return dict(saved.get("totals", {})), float(saved.get("seconds", 0.0))


def run_search(cfg: SearchConfig, out: str | Path, resume: bool = False, progress: bool = True) -> dict[str, Any]:
    """Run the search described by `cfg` into the run directory `out`; returns result.json's content.

    Under torchrun the proposal iterations and validation candidates are spread over the ranks
    (search.distributed); the result equals the sequential run's and only rank 0 writes files."""
    workers = Workers.from_env()
    try:
        return _run(cfg, Path(out), resume, progress, workers)
    finally:
        workers.close()


def _run(cfg: SearchConfig, out: Path, resume: bool, progress: bool, workers: Workers) -> dict[str, Any]:
    from torch.utils.tensorboard import SummaryWriter

    t_start = time.perf_counter()
    space = get_space(cfg.space, **cfg.space_options())
    SCORERS.get(cfg.scorer), ORDERS.get(cfg.order), PROXIES.get(cfg.proxy), MIXING.get(cfg.mixing)
    benchmark = open_benchmark(cfg.benchmark_table, cfg.nats_bench)  # fail early on a bad table
    spec = DataSpec(cfg.dataset, cfg.data_root, cfg.download)
    dataset = build_dataset(spec, "train", augment=cfg.augment, seed=cfg.seed)
    if len(dataset) < cfg.batch_size:  # type: ignore[arg-type]
        raise ConfigError(f"the data set has {len(dataset)} images, fewer than --batch-size {cfg.batch_size}")
    device = workers.device(resolve_device(cfg.device))
    main = workers.is_main
    done = _prepare_dir(out, cfg, resume) if main else []
    done = workers.gather(done if main else [])  # every rank knows the finished iterations
    handler = logging.FileHandler(out / "search.log") if main else logging.NullHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.getLogger().addHandler(handler)
    writer = SummaryWriter(str(out / "tb")) if main else None
    show = progress and main
    try:
        num_classes = num_classes_of(dataset)
        state, supernet, scorer, proxy = build_scoring(scoring_settings(cfg), space, device, num_classes)
        a0 = state.snapshot()
        old_rows = []
        if done and (out / "decisions.jsonl").exists():
            old_rows = [json.loads(l) for l in (out / "decisions.jsonl").read_text().splitlines() if l.strip()]
            old_rows = [r for r in old_rows if r["iteration"] < len(done)]
        sequential = workers.world == 1
        sink = (lambda rows: atomic_write_jsonl(out / "decisions.jsonl", rows)) if sequential else None
        decisions = DecisionLog(sink)
        decisions.rows = old_rows if sequential else []
        log.info("search %s: space=%s scorer=%s proxy=%s order=%s N=%d V=%d batch=%d seed=%d device=%s bn=%s "
                 "workers=%d", out, cfg.space, cfg.scorer, cfg.proxy, cfg.order, cfg.iterations,
                 cfg.validation_batches, cfg.batch_size, cfg.seed, device, cfg.bn_mode, workers.world)
        proposals = list(done)
        t_start -= sum(p.seconds for p in done)  # seconds that interrupted runs spent and checkpointed count
        todo = workers.mine(list(range(len(done), cfg.iterations)))
        steps_file = out / "proposal_steps.json"  # checkpoint inside the running proposal iteration
        stepwise = sequential and scorer.replayable
        with scorer.session():  # hooks attached once per search
            for i in tqdm(todo, desc="proposal", disable=not show):
                torch.manual_seed(derive_seed(cfg.seed, _PROPOSAL_STREAM, i, 2))  # augmentation / noise ops
                stream = BatchStream(dataset, cfg.batch_size, derive_seed(cfg.seed, _PROPOSAL_STREAM, i), device,
                                     cfg.channels_last)
                replay, record = (_step_checkpoint(steps_file, i) if stepwise else ([], None))
                t_start -= checkpointed_seconds(replay)
                try:
                    p = propose(space, scorer, state, a0, cfg.order, stream, cfg.seed, i, decisions,
                                replay, record)
                except ReplayMismatch as e:
                    raise ConfigError(f"cannot resume {out}: {e} (the code or data changed since the run was "
                                      f"interrupted); delete {steps_file} to redo that iteration") from None
                proposals.append(p)
                if sequential:
                    atomic_write_json(out / "proposals.json", [asdict(q) for q in proposals])
                    steps_file.unlink(missing_ok=True)
                    writer.add_scalar("proposal/seconds", p.seconds, i)
                log.info("proposal %d: %s (%.1fs, %d evaluations)", i, p.genotype, p.seconds, p.evaluations)
        if not sequential:
            proposals = sorted(workers.gather(proposals[len(done):]), key=lambda q: q.iteration)
            proposals = list(done) + proposals
            rows = sorted(workers.gather(decisions.rows), key=lambda r: r["iteration"])  # stable: steps stay ordered
            if main:
                atomic_write_json(out / "proposals.json", [asdict(q) for q in proposals])
                atomic_write_jsonl(out / "decisions.jsonl", old_rows + rows)
                for q in proposals[len(done):]:
                    writer.add_scalar("proposal/seconds", q.seconds, q.iteration)
        unique = list(dict.fromkeys(p.genotype for p in proposals))
        t_val = time.perf_counter()
        torch.manual_seed(derive_seed(cfg.seed, _VALIDATION_STREAM, 1))
        vstream = BatchStream(dataset, cfg.batch_size, derive_seed(cfg.seed, _VALIDATION_STREAM), device,
                              cfg.channels_last)
        batches = vstream.take(cfg.validation_batches)
        base = space.default_net_config("validation")
        vcfg = NetConfig(channels=cfg.val_channels or base.channels, cells=cfg.val_cells or base.cells,
                         num_classes=num_classes)
        checkpoint = out / "validation.json"  # totals of the candidates validated so far (sequential runs)
        done_totals, val_carried = _read_validation_checkpoint(checkpoint) if sequential else ({}, 0.0)
        t_start -= val_carried
        t_val -= val_carried  # validation seconds spent before a kill count
        if done_totals:
            log.info("validation: %d of %d candidates already scored (%s)", sum(g in done_totals for g in unique),
                     len(unique), checkpoint.name)
        sink_val = (lambda t: atomic_write_json(checkpoint, {"totals": t, "seconds": time.perf_counter() - t_val})
                    ) if sequential else None
        mine = validation_scores(space, workers.mine(unique), proxy, batches, vcfg, cfg.seed, device,
                                 lambda xs: tqdm(xs, desc="validation", disable=not show), cfg.channels_last,
                                 done_totals, sink_val)
        totals = dict(workers.gather(list(mine.items())))
        validation_seconds = time.perf_counter() - t_val
        winner = choose({g: totals[g] for g in unique})
        genotype = space.parse_genotype(winner)
        result: dict[str, Any] = {
            "space": cfg.space, "scorer": cfg.scorer, "proxy": cfg.proxy, "order": cfg.order,
            "seed": cfg.seed, "N": cfg.iterations, "V": cfg.validation_batches, "batch_size": cfg.batch_size,
            "bn_mode": cfg.bn_mode, "genotype": winner, "genotype_json": space.genotype_to_json(genotype),
            "validation_score": totals[winner], "unique_candidates": len(unique),
            "perturbations_per_iteration": proposals[0].evaluations,
            "proposal_seconds": [p.seconds for p in proposals], "validation_seconds": validation_seconds,
            "device": str(device), "workers": workers.world,
        }
        if space.topology_groups():
            result["topology_perturbations_per_iteration"] = proposals[0].topology_evaluations
        if benchmark is not None:
            result["benchmark"] = benchmark.lookup(winner)
            result["benchmark_source"] = benchmark.source
        result["seconds"] = time.perf_counter() - t_start  # of every process, if resumed
        if main:
            candidates = [{"genotype": g, "proposed": sum(p.genotype == g for p in proposals),
                           "validation_score": totals[g]} for g in unique]
            for k, c in enumerate(candidates):
                writer.add_scalar("validation/score", c["validation_score"], k)
            atomic_write_json(out / "candidates.json", candidates)
            atomic_write_json(out / "result.json", result)
            writer.add_text("genotype", winner)
        log.info("winner %s%s", winner, f" benchmark={result['benchmark']}" if "benchmark" in result else "")
        return result
    finally:
        if writer is not None:
            writer.close()
        logging.getLogger().removeHandler(handler)
        handler.close()
