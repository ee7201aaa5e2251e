"""Flags shared by subcommands, mapped one-to-one onto config fields."""
from __future__ import annotations

import argparse
from typing import Any


def add_data_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", help="cifar10 | cifar100 | imagefolder | imagenet | synthetic")
    p.add_argument("--data-root", help="data folder (for imagefolder: class subfolders, or train/ and test/)")
    p.add_argument("--download", action="store_true", default=None, help="allow downloading CIFAR")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--seed", type=int)
    p.add_argument("--device", help="auto (CUDA when present) | cpu | cuda | cuda:N")


def overrides(args: argparse.Namespace, names: list[str]) -> dict[str, Any]:
    """The given flags (not None) as config keys."""
    return {n: getattr(args, n) for n in names if getattr(args, n, None) is not None}
