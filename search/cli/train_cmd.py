"""`opscore train`: retrain a genotype with a published recipe (the arguments and the run live in train_final)."""
from __future__ import annotations

import argparse

from train_final.cli import add_arguments, run


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="retrain a searched architecture (DARTS, NB201, NB-Macro recipes)",
                       description="Retrain a genotype with a recipe from configs/ plus flags; one process or "
                                   "several under torchrun.")
    add_arguments(p)
    p.set_defaults(func=run)
