"""`opscore train-supernet`: DARTS (1st/2nd order), DrNAS and their -TSE variants; writes RUN_DIR/supernet.pt."""
from __future__ import annotations

import argparse
import json
import time

from runtime.progress import show_progress
from runtime.settings import add_flags, given, load_settings

from ..supernet_train.config import SupernetTrainConfig
from ..supernet_train.supernet_run import train_supernet


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train-supernet", help="train a supernet's weights and alphas (DARTS, DrNAS, -TSE)",
                       description="Bilevel supernet training on a train/validation split of the training set; "
                                   "settings from --config YAML (see configs/supernet-train-*.yaml), then flags.")
    p.add_argument("--config", help="YAML file of settings")
    add_flags(p, SupernetTrainConfig)
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last epoch")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    cfg = load_settings(SupernetTrainConfig, args.config, given(args, SupernetTrainConfig))
    out = cfg.out or time.strftime("runs/supernet-%Y%m%d-%H%M%S")
    result = train_supernet(cfg, out, resume=args.resume, progress=show_progress(args.no_progress))
    summary = {k: result[k] for k in ("space", "method", "epochs", "genotype", "supernet", "seconds") if k in result}
    if "benchmark" in result:
        summary["benchmark"] = result["benchmark"]
    summary["run_dir"] = str(out)
    print(json.dumps(summary))
    return 0
