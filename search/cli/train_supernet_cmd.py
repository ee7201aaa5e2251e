"""`opscore train-supernet`: DARTS (1st/2nd order), DrNAS and their -TSE variants; writes RUN_DIR/supernet.pt."""
from __future__ import annotations

import argparse
import json
import time
from dataclasses import fields

from ..config import load_config
from ..supernet_train.config import SupernetTrainConfig
from ..supernet_train.run import train_supernet
from .common import add_data_flags, overrides


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train-supernet", help="train a supernet's weights and alphas (DARTS, DrNAS, -TSE)",
                       description="Bilevel supernet training on a train/validation split of the training set; "
                                   "settings from --config YAML (see configs/supernet-train-*.yaml), then flags.")
    p.add_argument("--config", help="YAML file of settings")
    p.add_argument("--space", help="search space (opscore list)")
    p.add_argument("--method", help="darts | darts-2nd | drnas | darts-tse | drnas-tse")
    p.add_argument("--epochs", type=int, help="epochs (default: 100 on nb201, 50 elsewhere)")
    add_data_flags(p)
    p.add_argument("--augment", action=argparse.BooleanOptionalAction, default=None, help="crop + flip (default: on)")
    p.add_argument("--train-portion", type=float, help="share of the training set that trains the weights (0.5)")
    p.add_argument("--workers", type=int, help="data-loading processes (0)")
    p.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=None,
                   help="NHWC memory layout (default: on)")
    p.add_argument("--channels", type=int, help="supernet width")
    p.add_argument("--cells", type=int, help="supernet depth (cells per stage for nb201)")
    p.add_argument("--include-none", action=argparse.BooleanOptionalAction, default=None,
                   help="darts: make 'none' a candidate op")
    p.add_argument("--lr", type=float, help="weights: initial SGD learning rate (0.025)")
    p.add_argument("--lr-min", type=float, help="weights: final cosine learning rate (0.001)")
    p.add_argument("--arch-lr", type=float, help="alphas: Adam learning rate (3e-4)")
    p.add_argument("--arch-weight-decay", type=float, help="alphas: Adam weight decay of the DARTS methods (1e-3)")
    p.add_argument("--arch-start-epoch", type=int, help="epochs of weight-only warm-up (0)")
    p.add_argument("--tse-steps", type=int, help="-TSE: K minibatches summed per alpha update (100)")
    p.add_argument("--reg", choices=["l2", "kl"], help="DrNAS regulariser (l2)")
    p.add_argument("--reg-scale", type=float, help="DrNAS regulariser strength (1e-3)")
    p.add_argument("--eval-batches", type=int, help="validation minibatches scored per epoch (default: all; 0: none)")
    p.add_argument("--benchmark-table", help="NB201 CSV: look up the argmax-alpha genotype every epoch")
    p.add_argument("--out", help="run directory (default: runs/supernet-<time>)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last epoch")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    names = [f.name for f in fields(SupernetTrainConfig)]
    cfg = load_config(args.config, overrides(args, names), SupernetTrainConfig)
    out = cfg.out or time.strftime("runs/supernet-%Y%m%d-%H%M%S")
    result = train_supernet(cfg, out, resume=args.resume, progress=not args.no_progress)
    summary = {k: result[k] for k in ("space", "method", "epochs", "genotype", "supernet", "seconds") if k in result}
    if "benchmark" in result:
        summary["benchmark"] = result["benchmark"]
    summary["run_dir"] = str(out)
    print(json.dumps(summary))
    return 0
