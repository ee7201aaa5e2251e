"""`opscore lookup RUN_DIR...`: add benchmark lookups to finished run directories (rewrites result.json atomically),
and `sample_oracle`, the best of the candidates a search recorded in candidates.json."""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from runtime.rundir import RESULT, RunFolder, RunFolderError
from runtime.settings import add_flags, given, load_settings

from ..benchmarks import BenchmarkSet, BenchmarkSettings, merge_lookup, open_benchmarks
from ..config import ConfigError
from .errors import LOOKUP_FAILED, lookup_status

LOOKUP_WINNER = "delete it to look up the winner alone"  # the fix for a damaged candidates.json


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("lookup", help="add benchmark accuracies to finished run directories",
                       description="Look the genotype of each finished run directory up in the given benchmarks and "
                                   "add the accuracies to its result.json (a failed lookup is recorded there; exit "
                                   f"status {LOOKUP_FAILED}).")
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="run directory holding result.json")
    add_flags(p, BenchmarkSettings)
    p.set_defaults(func=run)


def read_finished(run_dir: str) -> tuple[RunFolder, dict[str, Any]]:
    """The run folder and its result; a folder without a result, genotype or space is one line."""
    folder = RunFolder(Path(run_dir))
    result = folder.read_json(RESULT, fix="delete it and resume the run (--resume) to write it again")
    if not isinstance(result, dict):
        raise RunFolderError(f"{run_dir} holds no finished run ({RESULT} is missing); finish or resume the run first")
    for key in ("genotype", "space"):
        if key not in result:
            raise RunFolderError(f"{folder.path(RESULT)} has no {key!r}; it is not a search or training result")
    return folder, result


def read_candidates(folder: RunFolder) -> list[str] | None:
    """The genotypes of the folder's candidates.json (None without one); a damaged file is one line."""
    from ..strategies.strategy import CANDIDATES  # here: the parser must start without torch

    saved = folder.read_json(CANDIDATES, fix=LOOKUP_WINNER)
    if saved is None:
        return None
    if not isinstance(saved, list) or not all(isinstance(c, dict) and "genotype" in c for c in saved):
        raise RunFolderError(f"{folder.path(CANDIDATES)} is not a list of candidates with a genotype each; "
                             + LOOKUP_WINNER)
    return [str(c["genotype"]) for c in saved]


def run(args: argparse.Namespace) -> int:
    settings = load_settings(BenchmarkSettings, None, given(args, BenchmarkSettings))
    if not settings.any_source():
        raise ConfigError("opscore lookup needs --benchmark-table, --nats-bench or --nb301-models")
    runs = [read_finished(d) for d in args.run_dirs]  # every folder checked before any is rewritten
    candidates = [read_candidates(folder) for folder, _ in runs]
    opened: dict[str, BenchmarkSet | None] = {}
    status = 0
    for (folder, result), genotypes in zip(runs, candidates):
        space = str(result["space"])
        if space not in opened:
            opened[space] = open_benchmarks(settings, space)
        bench = opened[space]
        assert bench is not None  # a source is configured
        result = merge_lookup(result, bench.result_entries(str(result["genotype"])))
        if genotypes is not None:  # a search's candidates: their best, as the search records it
            result["sample_oracle"] = bench.best(genotypes)
        folder.finish(result)  # atomic rewrite
        print(json.dumps({"run_dir": str(folder.root), "genotype": result["genotype"],
                          "benchmark": result["benchmark"]}))
        status = max(status, lookup_status("lookup", result, str(folder.root)))
    return status
