"""`opscore search`: Zero-Cost-PT and the other scorer/order combinations, from a YAML config plus flags."""
from __future__ import annotations

import argparse
import json
import time

from runtime.progress import show_progress
from runtime.settings import add_flags, given

from ..config import SearchConfig
from ..plugins import load_search_config, option_groups, options_table
from ..search_run import run_search
from .errors import lookup_status


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("search", help="search an architecture (Zero-Cost-PT by default)",
                       description="Search an architecture; settings from --config YAML, then flags.",
                       epilog="Exit status: 0 done; 2 a user error (nothing run); 3 the search finished and its "
                              "result.json is written, but a benchmark lookup failed (see benchmark_errors; "
                              "opscore lookup adds it later); 4 the search finished, but every candidate scored -inf or NaN, so its "
                              "genotype is an arbitrary pick (see no_signal in result.json).")
    p.add_argument("--config", help="YAML file of settings (see configs/)")
    add_flags(p, SearchConfig)
    for heading, options in option_groups():
        add_flags(p.add_argument_group(heading), options[0].declared_by, only=[o.field for o in options])
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    flags = {**given(args, SearchConfig), **{k: getattr(args, k) for k in options_table() if getattr(args, k, None)
                                             is not None}}
    cfg = load_search_config(args.config, flags)
    out = cfg.out or time.strftime("runs/search-%Y%m%d-%H%M%S")
    result = run_search(cfg, out, resume=args.resume, progress=show_progress(args.no_progress))
    summary = {k: result[k] for k in ("space", "genotype", "seed", "seconds") if k in result}
    if "benchmark" in result:
        summary["benchmark"] = result["benchmark"]
    summary["run_dir"] = str(out)
    print(json.dumps(summary))
    return lookup_status("search", result, str(out))
