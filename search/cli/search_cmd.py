"""`opscore search`: Zero-Cost-PT and the other scorer/order combinations, from a YAML config plus flags."""
from __future__ import annotations

import argparse
import json
import time
from dataclasses import fields

from ..config import SearchConfig, load_config
from ..run import run_search
from .common import add_data_flags, overrides


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("search", help="search an architecture (Zero-Cost-PT by default)",
                       description="Search an architecture; settings from --config YAML, then flags.")
    p.add_argument("--config", help="YAML file of settings (see configs/)")
    p.add_argument("--strategy", help="search strategy (opscore list; default zcpt)")
    p.add_argument("--space", help="search space (opscore list)")
    p.add_argument("--scorer", help="operation scorer: zc-pt, disc-zc, darts-alpha, darts-pt, disc-acc, ...")
    p.add_argument("--proxy", help="zero-cost proxy: nwot, ...")
    p.add_argument("--order", help="edge order: fixed, random, ...")
    p.add_argument("-N", "--iterations", type=int, help="proposal iterations N")
    p.add_argument("-V", "--validation-batches", type=int, help="validation minibatches V")
    p.add_argument("--bn-mode", choices=["batch", "eval"], help="BN statistics while scoring")
    p.add_argument("--mixing", help="mixing rule of the supernet: uniform, softmax, softmax-fixed, sum")
    p.add_argument("--augment", action=argparse.BooleanOptionalAction, default=None,
                   help="augment scoring minibatches")
    add_data_flags(p)
    p.add_argument("--benchmark-table", help="CSV with columns arch + accuracies (NB201)")
    p.add_argument("--nats-bench", help="NATS-Bench topology archive (needs opscore[bench])")
    p.add_argument("--channels", type=int, help="supernet width")
    p.add_argument("--cells", type=int, help="supernet depth (cells per stage for nb201)")
    p.add_argument("--val-channels", type=int, help="validation network width")
    p.add_argument("--val-cells", type=int, help="validation network depth")
    p.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=None,
                   help="NHWC memory layout (default: on; faster convolutions on CPU and GPU)")
    p.add_argument("--include-none", action=argparse.BooleanOptionalAction, default=None,
                   help="darts: make 'none' a candidate op (default: excluded, as in DARTS-PT)")
    p.add_argument("--batched", action=argparse.BooleanOptionalAction, default=None,
                   help="score all ops of an edge in one grouped forward (default: on with CUDA)")
    p.add_argument("--supernet", help="trained supernet checkpoint RUN_DIR/supernet.pt (opscore train-supernet)")
    p.add_argument("--tune-epochs", type=float, help="darts-pt/disc-acc: fine-tuning epochs after each decision (5)")
    p.add_argument("--tune-lr", type=float, help="darts-pt/disc-acc: fine-tuning learning rate (0.0025)")
    p.add_argument("--fix-alpha", action=argparse.BooleanOptionalAction, default=None,
                   help="darts-pt/disc-acc: keep the alphas fixed while fine-tuning (DARTS-PT fix-alpha)")
    p.add_argument("--disc-tune-epochs", type=float, help="disc-acc: fine-tune each discretized supernet first (0)")
    p.add_argument("--accuracy-batches", type=int,
                   help="darts-pt/disc-acc: validation minibatches for accuracy (default: the whole held-out half)")
    p.add_argument("--out", help="run directory (default: runs/search-<time>)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    names = [f.name for f in fields(SearchConfig)]
    cfg = load_config(args.config, overrides(args, names), SearchConfig)
    out = cfg.out or time.strftime("runs/search-%Y%m%d-%H%M%S")
    result = run_search(cfg, out, resume=args.resume, progress=not args.no_progress)
    summary = {k: result[k] for k in ("space", "genotype", "seed", "seconds") if k in result}
    if "benchmark" in result:
        summary["benchmark"] = result["benchmark"]
    summary["run_dir"] = str(out)
    print(json.dumps(summary))
    return 0
