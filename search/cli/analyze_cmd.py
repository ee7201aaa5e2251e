"""`opscore analyze ANALYSIS`: studies of the scorers; each analysis writes CSV, PNG and result.json."""
from __future__ import annotations

import argparse
import json
import time

from runtime.progress import show_progress
from runtime.settings import add_flags, given, load_settings

from ..analysis.op_scoring import OpScoringConfig, run_op_scoring


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("analyze", help="analyses of the operation scorers (op-scoring)")
    analyses = p.add_subparsers(dest="analysis", required=True, metavar="ANALYSIS")
    op = analyses.add_parser("op-scoring", help="per-edge rank correlation of scorers with benchmark oracles",
                             description="Score every (edge, op) of the untrained supernet with zc-pt and disc-zc "
                                         "per proxy and with darts-alpha at initialisation; correlate with the "
                                         "best-acc / avg-acc oracles of the benchmark table (Xiang et al. 2023, "
                                         "Fig. 2 left).")
    add_flags(op, OpScoringConfig)
    op.add_argument("--no-progress", action="store_true", help="no progress bar")
    op.set_defaults(func=run_op_scoring_cmd)


def run_op_scoring_cmd(args: argparse.Namespace) -> int:
    cfg = load_settings(OpScoringConfig, None, given(args, OpScoringConfig))
    out = cfg.out or time.strftime("runs/op-scoring-%Y%m%d-%H%M%S")
    result = run_op_scoring(cfg, out, progress=show_progress(args.no_progress))
    print(json.dumps({"best-acc": result["best-acc"], "avg-acc": result["avg-acc"], "run_dir": str(out)}))
    return 0
