"""`opscore proxies`: rank correlation of zero-cost proxies with a benchmark table on K sampled architectures."""
from __future__ import annotations

import argparse
import json
import time
from dataclasses import fields

from ..analysis.proxy_study import ProxyStudyConfig, run_proxy_study
from ..config import load_config
from .common import add_data_flags, overrides


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("proxies", help="correlate zero-cost proxies with benchmark accuracies",
                       description="Score K sampled architectures (fresh stand-alone networks) with every chosen "
                                   "proxy on the same minibatch; write scores.csv, result.json (Spearman, Kendall) "
                                   "and proxies.png into --out.")
    p.add_argument("--space", help="search space (default nb201)")
    p.add_argument("--sample", type=int, help="number K of architectures sampled from the table (default 200)")
    p.add_argument("--proxies", help="comma list of proxies or 'all' (default all; see opscore list)")
    add_data_flags(p)
    p.add_argument("--batches", type=int, help="minibatches per score (mean over them; default 1)")
    p.add_argument("--benchmark-table", help="CSV with columns arch + accuracies (e.g. NB201)")
    p.add_argument("--metric", help="accuracy column of the table (default: its first)")
    p.add_argument("--bn-mode", choices=["batch", "eval"], help="BN statistics while scoring (default batch)")
    p.add_argument("--channels", type=int, help="network width (space default)")
    p.add_argument("--cells", type=int, help="network depth (space default)")
    p.add_argument("--out", help="run directory (default runs/proxies-<time>)")
    p.add_argument("--resume", action="store_true", help="continue the killed run in --out (same settings)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    names = [f.name for f in fields(ProxyStudyConfig)]
    cfg = load_config(None, overrides(args, names), ProxyStudyConfig)
    out = cfg.out or time.strftime("runs/proxies-%Y%m%d-%H%M%S")
    result = run_proxy_study(cfg, out, progress=not args.no_progress, resume=args.resume)
    print(json.dumps({"spearman": result["spearman"], "kendall": result["kendall"], "run_dir": str(out)}))
    return 0
