"""Arguments and entry of `opscore train` and `python -m train_final` (one definition for both)."""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any, Sequence

import yaml

from runtime.device import DeviceError
from runtime.rundir import RunFolderError
from supernet.registry import UnknownNameError
from supernet.spaces.base import GenotypeError

from .data import DATASETS, DataError
from .genotypes import LoadedGenotype, load_genotype, parse_in_space
from .recipe import AMP_MODES, Recipe, RecipeError, load_recipe, make_recipe, read_yaml_mapping
from .run import RunPaths, train

# user mistakes: one line on stderr, exit status 2, no traceback
USER_ERRORS: tuple[type[BaseException], ...] = (RecipeError, DataError, GenotypeError, UnknownNameError,
                                                RunFolderError, DeviceError,
                                                FileNotFoundError, PermissionError, IsADirectoryError)
# flag -> recipe key (the flags a user most often changes; --set reaches every other setting)
FLAG_KEYS = ("dataset", "data_root", "download", "epochs", "channels", "cells", "batch_size", "lr",
             "weight_decay", "drop_path", "auxiliary_weight", "cutout", "label_smoothing", "grad_clip",
             "val_split", "amp", "channels_last", "image_size", "workers", "seed", "device", "test_every")
DEFAULT_RECIPES = {"nb201": "cifar10-nb201", "nb-macro": "cifar10-nb-macro", "darts": "cifar10-darts"}


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The flags of the train command."""
    p.add_argument("--genotype", help="RUN_DIR (its result.json), FILE, or a DARTS Genotype(...) / DARTS_V2 / "
                                      "NB201 arch / NB-Macro 8-digit string")
    p.add_argument("--recipe", help="cifar10-darts | imagenet-darts | cifar10-nb201 | cifar10-nb-macro, or a YAML "
                                    "file (default: the space's own recipe)")
    p.add_argument("--dataset", help=" | ".join(DATASETS))
    p.add_argument("--data-root", help="data folder (imagenet/imagefolder: train/ and test/ or val/ of class folders)")
    p.add_argument("--download", action="store_true", default=None, help="allow downloading CIFAR")
    p.add_argument("--epochs", type=int)
    p.add_argument("--channels", type=int, help="initial channels C")
    p.add_argument("--cells", type=int, help="cells (DARTS: total; NB201: per stage)")
    p.add_argument("--batch-size", type=int, help="global batch size (split over the processes)")
    p.add_argument("--lr", type=float, help="learning rate at the recipe's reference batch")
    p.add_argument("--weight-decay", type=float)
    p.add_argument("--drop-path", type=float, help="final drop-path probability (ramped linearly)")
    p.add_argument("--auxiliary-weight", type=float, help="auxiliary head loss weight (0: no head)")
    p.add_argument("--cutout", type=int, help="cutout side (0: off)")
    p.add_argument("--label-smoothing", type=float)
    p.add_argument("--grad-clip", type=float)
    p.add_argument("--val-split", type=float,
                   help="hold out this fraction (< 1) or number of training images for model selection")
    p.add_argument("--amp", choices=AMP_MODES, help="mixed precision")
    p.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=None,
                   help="channels-last memory format")
    p.add_argument("--image-size", type=int)
    p.add_argument("--workers", type=int, help="data-loader processes per training process")
    p.add_argument("--seed", type=int)
    p.add_argument("--device", help="auto (CUDA when present) | cpu | cuda | cuda:N")
    p.add_argument("--test-every", type=int, help="evaluate the test set every k epochs (always after the last)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="any other recipe setting, e.g. --set schedule=exp (repeatable)")
    p.add_argument("--out", help="run directory (default: runs/train-<time>)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def parse_set(items: Sequence[str]) -> dict[str, Any]:
    """`KEY=VALUE` pairs, values read as YAML scalars (numbers, true/false, null, text)."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise RecipeError(f"--set expects KEY=VALUE, got {item!r}")
        try:
            out[key.strip().replace("-", "_")] = yaml.safe_load(value) if value.strip() else None
        except yaml.YAMLError:
            raise RecipeError(f"--set {item!r}: the value is not a YAML scalar") from None
    return out


def default_recipe(space: str) -> str:
    """The space's own training recipe."""
    if space in DEFAULT_RECIPES:
        return DEFAULT_RECIPES[space]
    if space.startswith("darts"):
        return DEFAULT_RECIPES["darts"]
    raise RecipeError(f"no default recipe for space {space!r}; pass --recipe")


def resolve(args: argparse.Namespace, out: str) -> Recipe:
    """Genotype + recipe + overrides; on --resume the saved recipe.yaml fills what the flags leave out."""
    overrides = {**parse_set(args.set), **{k: getattr(args, k) for k in FLAG_KEYS if getattr(args, k) is not None}}
    saved_file = RunPaths(Path(out)).recipe
    saved = read_yaml_mapping(saved_file) if args.resume and saved_file.is_file() else None
    loaded: LoadedGenotype
    if args.genotype:
        loaded = load_genotype(args.genotype)
    elif saved is not None and saved.get("space") and saved.get("genotype"):
        loaded = parse_in_space(saved["space"], saved["genotype"])
    else:
        raise RecipeError("--genotype is required: a run directory, a genotype file or a genotype string")
    overrides.update(space=loaded.space, genotype=loaded.text)
    if args.recipe:
        return load_recipe(args.recipe, overrides)
    if saved is not None:
        return make_recipe(saved, overrides)
    return load_recipe(default_recipe(loaded.space), overrides)


def run(args: argparse.Namespace) -> int:
    """Run the training the flags describe; rank 0 prints a one-line JSON summary."""
    out = args.out
    if not out:
        if int(os.environ.get("WORLD_SIZE", "1")) > 1:
            raise RecipeError("--out is required with several processes (every process must name the same run)")
        out = time.strftime("runs/train-%Y%m%d-%H%M%S")
    recipe = resolve(args, out)
    result = train(recipe, out, resume=args.resume, progress=not args.no_progress)
    if int(os.environ.get("RANK", "0")) == 0:
        keys = ("space", "genotype", "recipe", "epochs", "test_top1", "test_top5", "params", "flops", "seconds")
        summary = {k: result[k] for k in keys if k in result}
        if "selection" in result:
            summary["selection"] = result["selection"]
        summary["run_dir"] = str(out)
        print(json.dumps(summary))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m train_final`: user mistakes give one line on stderr and exit status 2."""
    parser = argparse.ArgumentParser(prog="python -m train_final",
                                     description="Retrain a searched architecture with a published recipe.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    add_arguments(parser)
    args = parser.parse_args(argv)
    main_rank = int(os.environ.get("RANK", "0")) == 0
    level = logging.DEBUG if args.verbose else (logging.INFO if main_rank else logging.WARNING)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        return run(args)
    except USER_ERRORS as e:
        print(f"train_final: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("train_final: interrupted (continue with --resume)", file=sys.stderr)
        return 130
