"""`opscore describe`: parameters and FLOPs of a genotype's stand-alone network at its retraining size."""
from __future__ import annotations

import argparse
import json
import re
from dataclasses import dataclass
from typing import Any

import torch

from runtime.settings import SettingsError, add_flags, given, load_settings, setting
from supernet.spaces import SPACES
from train_final.cli import default_recipe
from train_final.genotypes import LoadedGenotype, load_genotype, named_genotype
from train_final.metrics import count_flops, count_params
from train_final.recipe import Recipe, load_recipe, recipe_names
from train_final.train_run import build_model

CLASSES = {"cifar10": 10, "cifar100": 100, "imagenet": 1000}
PUBLISHED_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")


@dataclass
class DescribeConfig:
    """What to describe: a genotype of a space, for a data set, at the recipe's size unless overridden."""

    space: str | None = setting(None, "search space of the genotype (opscore list)")
    genotype: str | None = setting(None, "RUN_DIR, FILE or genotype string in the space's format")
    dataset: str = setting("cifar10", "the classes and the recipe: cifar10 (10), cifar100 (100), imagenet (1000)",
                           choices=tuple(CLASSES))
    image_size: int | None = setting(None, "input side (default: the recipe's, 32 for CIFAR, 224 for ImageNet)",
                                        minimum=8)
    channels: int | None = setting(None, "network width (default: the recipe's)", minimum=1)
    cells: int | None = setting(None, "network depth (default: the recipe's)", minimum=1)

    def validate(self) -> "DescribeConfig":
        """The space and the genotype are required; sizes are positive."""
        if not self.space:
            raise SettingsError(f"--space is required; choose one of: {', '.join(SPACES.names())}")
        SPACES.get(self.space)
        if not self.genotype:
            raise SettingsError("--genotype is required: a run directory, a genotype file or a genotype string")
        return self


def recipe_for(space: str, dataset: str) -> str:
    """The space's retraining recipe for `dataset`: `imagenet-<space>` for ImageNet where one exists, else the
    space's own (CIFAR) recipe."""
    if dataset == "imagenet":
        family = "darts" if space.startswith("darts") else space
        if f"imagenet-{family}" in recipe_names():
            return f"imagenet-{family}"
    return default_recipe(space)


def describe(cfg: DescribeConfig) -> dict[str, Any]:
    """Params (auxiliary head excluded, as DARTS counts) and FLOPs (2 per multiply-add) of one forward of the
    stand-alone network the recipe builds, with the given overrides."""
    text = str(cfg.genotype).strip()
    if str(cfg.space).startswith("darts") and PUBLISHED_NAME.match(text):  # DARTS_V2 and the other published names
        named = named_genotype(text)
        loaded = LoadedGenotype(str(cfg.space), named.genotype, named.text)
    else:
        loaded = load_genotype(text, cfg.space)
    name = recipe_for(loaded.space, cfg.dataset)
    recipe: Recipe = load_recipe(name, {"image_size": cfg.image_size, "channels": cfg.channels, "cells": cfg.cells,
                                        "space": loaded.space, "genotype": loaded.text})
    torch.manual_seed(0)
    model = build_model(loaded, recipe, CLASSES[cfg.dataset])
    base = loaded.space_obj().default_net_config("train")
    return {"space": loaded.space, "genotype": loaded.text, "dataset": cfg.dataset,
            "num_classes": CLASSES[cfg.dataset], "recipe": name, "image_size": recipe.image_size,
            "channels": recipe.channels or base.channels, "cells": recipe.cells or base.cells,
            "params": count_params(model), "flops": count_flops(model, recipe.image_size, torch.device("cpu"))}


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("describe", help="parameters and FLOPs of a genotype's network",
                       description="Build the stand-alone network of --genotype as its retraining recipe does (for "
                                   "--dataset; sizes overridable) and print params and FLOPs as JSON.")
    add_flags(p, DescribeConfig)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    cfg = load_settings(DescribeConfig, None, given(args, DescribeConfig))
    print(json.dumps(describe(cfg)))
    return 0
