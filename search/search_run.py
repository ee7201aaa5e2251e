"""A complete search run: settings -> run folder, data, device, benchmark -> the strategy's stages ->
result.json.

The strategy (`--strategy`, registered in search.strategies) runs prepare, propose, validate and
report; this driver owns what every strategy shares: the run folder (config.yaml, search.log, tb/,
result.json; `resume=True` reopens it with the same settings, benchmark settings excepted), the scoring
data, the device, the processes under torchrun (only rank 0 writes) and the benchmark lookups, made after
result.json is written and recorded in it (a failed one under `benchmark_errors`, never raised), with
`sample_oracle`: the benchmark entry of the best of the strategy's candidates (candidates.json), the
ceiling any validation of them could reach.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from runtime.device import resolve_device
from runtime.rundir import RunFolder
from supernet.spaces import get_space
from runtime.data import build_dataset, image_side, num_classes_of

from .benchmarks import FREE as BENCHMARK_SETTINGS, merge_lookup, open_benchmarks
from .config import ConfigError, SearchConfig
from runtime.distributed import Workers
from .plugins import resolved, search_schema
from .strategies import STRATEGIES, SearchContext, Strategy

log = logging.getLogger(__name__)


def run_search(cfg: SearchConfig, out: str | Path, resume: bool = False, progress: bool = True) -> dict[str, Any]:
    """Run the search described by `cfg` into the run directory `out`; returns result.json's content.

    Under torchrun the strategy spreads its work over the ranks (runtime.distributed); the result equals
    the sequential run's and only rank 0 writes files."""
    workers = Workers.from_env(cfg.device)
    try:
        cfg = resolved(cfg)
        strategy = STRATEGIES.create(cfg.strategy, **cfg.options_of(STRATEGIES, cfg.strategy))
        ctx = _open(cfg, Path(out), resume, progress, workers, strategy)
        result = _stages(strategy, ctx)
        workers.barrier()  # every rank done before the process group goes (rank 0 wrote and looked up last)
        return result
    finally:
        workers.close()


def _open(cfg: SearchConfig, out: Path, resume: bool, progress: bool, workers: Workers,
          strategy: Strategy) -> SearchContext:
    """Everything the stages share, checked before any work: space, names, benchmark, data, device, folder."""
    cfg = resolved(strategy.settle(cfg))
    space = get_space(cfg.space, **cfg.space_options())
    strategy.check(cfg)
    benchmark = open_benchmarks(cfg.benchmark_settings(), cfg.space)  # fail early on a bad table or archive
    dataset = build_dataset(cfg.data_spec(), "train", augment=cfg.augment, seed=cfg.seed)
    if len(dataset) < cfg.batch_size:  # type: ignore[arg-type]
        raise ConfigError(f"the data set has {len(dataset)} images, fewer than --batch-size {cfg.batch_size}")
    device = resolve_device(cfg.device, workers.local_rank if workers.world > 1 else None)
    # the benchmark settings choose lookups, not the search: a run resumes whatever they are
    schema = search_schema()
    folder = RunFolder.open(out, cfg.to_dict(), resume=resume, markers=strategy.markers,
                            free=("out", *BENCHMARK_SETTINGS),
                            schema=schema,
                            writes=workers.is_main, barrier=workers.barrier)
    return SearchContext(cfg, folder, workers, space, dataset, num_classes_of(dataset), device, benchmark, progress,
                         input_size=image_side(dataset), schema=schema)


def _stages(strategy: Strategy, ctx: SearchContext) -> dict[str, Any]:
    """prepare -> propose -> validate -> report, with the log file and TensorBoard open; writes result.json."""
    with ctx.folder.logging_to("search.log"), ctx.folder.tensorboard() as writer:
        ctx.writer = writer
        strategy.prepare(ctx)
        candidates = strategy.propose(ctx)
        scores = strategy.validate(ctx, candidates)
        result = strategy.report(ctx, candidates, scores)
        result["seconds"] = ctx.seconds()  # of every process, if resumed
        ctx.folder.finish(result)  # written before any lookup: a failed lookup never loses the search
        if ctx.benchmark is not None and ctx.workers.is_main:
            result = merge_lookup(result, ctx.benchmark.result_entries(result["genotype"]))
            result["sample_oracle"] = ctx.benchmark.best(candidates)
            ctx.folder.finish(result)
        writer.add_text("genotype", result["genotype"])
        log.info("winner %s%s", result["genotype"],
                 f" benchmark={result['benchmark']}" if "benchmark" in result else "")
        return result
