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

from runtime.checkpoint_file import CheckpointError
from runtime.device import DeviceError
from runtime.io import WriteError
from runtime.progress import show_progress
from runtime.rundir import RunFolderError
from runtime.settings import SettingsError, add_flags, check_values, given
from supernet.registry import UnknownNameError
from supernet.spaces.space import GenotypeError

from runtime.data import DataError
from .genotypes import LoadedGenotype, load_genotype, parse_in_space
from .recipe import Recipe, RecipeError, load_recipe, make_recipe, read_yaml_mapping
from .train_run import RunPaths, train

# user mistakes: one line on stderr, exit status 2, no traceback
USER_ERRORS: tuple[type[BaseException], ...] = (RecipeError, SettingsError, DataError, GenotypeError,
                                                UnknownNameError, RunFolderError, DeviceError, FileNotFoundError,
                                                PermissionError, IsADirectoryError, CheckpointError, WriteError)
DEFAULT_RECIPES = {"nb201": "cifar10-nb201", "nb-macro": "cifar10-nb-macro", "darts": "cifar10-darts",
                   "mobilenet": "cifar10-mobilenet"}


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The flags of the train command: the Recipe fields with a flag, and --set for the others."""
    p.add_argument("--genotype", help="RUN_DIR (its result.json), FILE, or a DARTS Genotype(...) / DARTS_V2 / "
                                      "NB201 arch / NB-Macro 8-digit / MobileNet k3e6,skip,... string")
    p.add_argument("--recipe", help="cifar10-darts | imagenet-darts | cifar10-nb201 | cifar10-nb-macro | "
                                    "cifar10-mobilenet | imagenet-mobilenet, or a YAML file (default: the space's "
                                    "own recipe)")
    add_flags(p.add_argument_group("recipe settings", "override the recipe; the defaults shown are the built-in "
                                                      "ones, which the recipe file replaces"), Recipe)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="any other recipe setting, e.g. --set schedule=exp (repeatable)")
    p.add_argument("--out", help="run directory (default: runs/train-<time>)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def parse_set(items: Sequence[str]) -> dict[str, Any]:
    """`KEY=VALUE` pairs, values read as YAML scalars (numbers, true/false, null, text) and type-checked
    against the Recipe fields."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise RecipeError(f"--set expects KEY=VALUE, got {item!r}")
        try:
            out[key.strip().replace("-", "_")] = yaml.safe_load(value) if value.strip() else None
        except yaml.YAMLError:
            raise RecipeError(f"--set {item!r}: the value is not a YAML scalar") from None
    try:
        return check_values(Recipe, out, "--set")
    except SettingsError as e:
        raise RecipeError(str(e)) from None


def default_recipe(space: str) -> str:
    """The space's own training recipe."""
    if space in DEFAULT_RECIPES:
        return DEFAULT_RECIPES[space]
    if space.startswith("darts"):
        return DEFAULT_RECIPES["darts"]
    raise RecipeError(f"no default recipe for space {space!r}; pass --recipe")


def resolve(args: argparse.Namespace, out: str) -> Recipe:
    """Genotype + recipe + overrides; on --resume the saved recipe.yaml fills what the flags leave out."""
    overrides = {**parse_set(args.set), **given(args, Recipe)}
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
        return make_recipe(saved, overrides, source=f"recipe file {saved_file}")
    return load_recipe(default_recipe(loaded.space), overrides)


def run(args: argparse.Namespace) -> int:
    """Run the training the flags describe; rank 0 prints a one-line JSON summary."""
    out = args.out
    if not out:
        if int(os.environ.get("WORLD_SIZE", "1")) > 1:
            raise RecipeError("--out is required with several processes (every process must name the same run)")
        out = time.strftime("runs/train-%Y%m%d-%H%M%S")
    recipe = resolve(args, out)
    result = train(recipe, out, resume=args.resume, progress=show_progress(args.no_progress))
    if int(os.environ.get("RANK", "0")) == 0:
        keys = ("space", "genotype", "recipe", "epochs", "test_top1", "test_top5", "params", "flops", "seconds")
        summary = {k: result[k] for k in keys if k in result}
        if "selection" in result:
            summary["selection"] = result["selection"]
        summary["run_dir"] = str(out)
        print(json.dumps(summary))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m train_final`: user mistakes give one line on stderr and exit status 2 (with --debug, their
    traceback); a bug always shows its traceback."""
    parser = argparse.ArgumentParser(prog="python -m train_final",
                                     description="Retrain a searched architecture with a published recipe.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("--debug", action="store_true",
                        help="show the full traceback of user errors too (bugs always show one)")
    add_arguments(parser)
    args = parser.parse_args(argv)
    main_rank = int(os.environ.get("RANK", "0")) == 0
    level = logging.DEBUG if args.verbose else (logging.INFO if main_rank else logging.WARNING)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        return run(args)
    except USER_ERRORS as e:
        if args.debug:
            raise
        print(f"train_final: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("train_final: interrupted (continue with --resume)", file=sys.stderr)
        return 130
