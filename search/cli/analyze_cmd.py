"""`opscore analyze ANALYSIS`: studies of the scorers; each analysis writes CSV, PNG and result.json."""
from __future__ import annotations

import argparse
import json
import time
from dataclasses import fields

from ..analysis.op_scoring import OpScoringConfig, run_op_scoring
from ..config import load_config
from .common import overrides


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("analyze", help="analyses of the operation scorers (op-scoring)")
    analyses = p.add_subparsers(dest="analysis", required=True, metavar="ANALYSIS")
    op = analyses.add_parser("op-scoring", help="per-edge rank correlation of scorers with benchmark oracles",
                             description="Score every (edge, op) of the untrained supernet with zc-pt and disc-zc "
                                         "per proxy and with darts-alpha at initialisation; correlate with the "
                                         "best-acc / avg-acc oracles of the benchmark table (Xiang et al. 2023, "
                                         "Fig. 2 left).")
    op.add_argument("--space", help="search space (default nb201)")
    op.add_argument("--proxies", help="comma list of proxies or 'all' (default nwot,synflow)")
    op.add_argument("--scorers", help="proxy scorers, comma list of zc-pt, disc-zc (default both)")
    op.add_argument("--seeds", help="comma list of seeds (default 0,1,2,3)")
    op.add_argument("--no-darts-alpha", dest="darts_alpha", action="store_false", default=None,
                    help="leave darts-alpha out")
    op.add_argument("--dataset", help="cifar10 | cifar100 | imagefolder | imagenet | synthetic")
    op.add_argument("--data-root", help="data folder (for imagefolder: class subfolders, or train/ and test/)")
    op.add_argument("--download", action="store_true", default=None, help="allow downloading CIFAR")
    op.add_argument("--batch-size", type=int, help="minibatch size (default 64)")
    op.add_argument("--device", help="auto (CUDA when present) | cpu | cuda | cuda:N")
    op.add_argument("--benchmark-table", help="CSV with columns arch + accuracies (e.g. NB201)")
    op.add_argument("--metric", help="accuracy column of the table (default: its first)")
    op.add_argument("--bn-mode", choices=["batch", "eval"], help="BN statistics while scoring (default: as opscore search)")
    op.add_argument("--channels", type=int, help="supernet width (space default)")
    op.add_argument("--cells", type=int, help="supernet depth (space default)")
    op.add_argument("--out", help="run directory (default runs/op-scoring-<time>)")
    op.add_argument("--no-progress", action="store_true", help="no progress bar")
    op.set_defaults(func=run_op_scoring_cmd)


def run_op_scoring_cmd(args: argparse.Namespace) -> int:
    names = [f.name for f in fields(OpScoringConfig)]
    cfg = load_config(None, overrides(args, names), OpScoringConfig)
    out = cfg.out or time.strftime("runs/op-scoring-%Y%m%d-%H%M%S")
    result = run_op_scoring(cfg, out, progress=not args.no_progress)
    print(json.dumps({"best-acc": result["best-acc"], "avg-acc": result["avg-acc"], "run_dir": str(out)}))
    return 0
