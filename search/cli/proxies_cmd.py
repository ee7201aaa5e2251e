"""`opscore proxies`: rank correlation of zero-cost proxies with a benchmark table on K sampled architectures."""
from __future__ import annotations

import argparse
import json
import time

from runtime.progress import show_progress
from runtime.settings import add_flags, given, load_settings

from ..analysis.proxy_study import ProxyStudyConfig, run_proxy_study


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("proxies", help="correlate zero-cost proxies with benchmark accuracies",
                       description="Score K sampled architectures (fresh stand-alone networks) with every chosen "
                                   "proxy on the same minibatch; write scores.csv, result.json (Spearman, Kendall) "
                                   "and proxies.png into --out.")
    add_flags(p, ProxyStudyConfig)
    p.add_argument("--resume", action="store_true", help="continue the killed run in --out (same settings)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    cfg = load_settings(ProxyStudyConfig, None, given(args, ProxyStudyConfig))
    out = cfg.out or time.strftime("runs/proxies-%Y%m%d-%H%M%S")
    result = run_proxy_study(cfg, out, progress=show_progress(args.no_progress), resume=args.resume)
    print(json.dumps({"spearman": result["spearman"], "kendall": result["kendall"], "run_dir": str(out)}))
    return 0
