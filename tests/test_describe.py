"""`opscore describe`: params equal those of the network the retraining recipe builds, for every space; FLOPs
positive and growing with the input side; bad input is one line with exit status 2."""
from __future__ import annotations

import json

import pytest
import torch

from search.cli import main
from search.cli.describe_cmd import CLASSES, DescribeConfig, describe, recipe_for
from train_final.genotypes import load_genotype
from train_final.metrics import count_params
from train_final.recipe import load_recipe
from train_final.train_run import build_model

MOBILENET = "k3e6,skip,k5e3,k7e6,k5e6,k3e3,skip,skip,k7e3,k5e3,k3e6,k7e6,k3e3,skip,k5e6,k3e3,k7e6,k5e3,skip,k3e3,k5e6"
GENOTYPES = {
    "nb201": "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|",
    "nb-macro": "22102122",
    "darts": "DARTS_V2",
    "mobilenet": MOBILENET,
}


def recipe_params(space: str, genotype: str, dataset: str) -> int:
    """count_params of the network `opscore train` builds with the space's recipe for `dataset`."""
    loaded = load_genotype(genotype)  # the space detected, as `opscore train --genotype` does
    assert loaded.space == space
    recipe = load_recipe(recipe_for(space, dataset), {"space": space, "genotype": loaded.text})
    return count_params(build_model(loaded, recipe, CLASSES[dataset]))


@pytest.mark.slow_params('darts')
@pytest.mark.parametrize("space", list(GENOTYPES))
def test_params_equal_the_recipe_network(space, capsys):
    assert main(["describe", "--space", space, "--genotype", GENOTYPES[space]]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["params"] == recipe_params(space, GENOTYPES[space], "cifar10") and out["flops"] > 0
    assert out["space"] == space and out["num_classes"] == 10 and out["image_size"] == 32


@pytest.mark.slow
def test_darts_v2_has_its_published_size():
    assert describe(DescribeConfig(space="darts", genotype="DARTS_V2").validate())["params"] == 3_349_342  # 3.35M


@pytest.mark.slow
def test_imagenet_uses_the_imagenet_recipe_and_1000_classes():
    out = describe(DescribeConfig(space="mobilenet", genotype=MOBILENET, dataset="imagenet").validate())
    assert (out["recipe"], out["image_size"], out["num_classes"]) == ("imagenet-mobilenet", 224, 1000)
    assert out["params"] == recipe_params("mobilenet", MOBILENET, "imagenet")
    small = describe(DescribeConfig(space="mobilenet", genotype=MOBILENET, dataset="imagenet",
                                    image_size=32).validate())
    assert small["params"] == out["params"] and small["flops"] < out["flops"]  # strides change no parameter
    narrow = describe(DescribeConfig(space="mobilenet", genotype=MOBILENET, channels=20).validate())
    assert narrow["channels"] == 20 and narrow["params"] < recipe_params("mobilenet", MOBILENET, "cifar10")


@pytest.mark.parametrize("argv, needle", [
    (["--genotype", MOBILENET], "--space is required"),
    (["--space", "mobilenet"], "--genotype is required"),
    (["--space", "nope", "--genotype", MOBILENET], "unknown space 'nope'"),
    (["--space", "mobilenet", "--genotype", "k3e3,k3e3"], "21 comma-separated tokens"),
    (["--space", "nb201", "--genotype", "|bogus~0|"], "NB201"),
    (["--space", "mobilenet", "--genotype", MOBILENET, "--channels", "0"], "channels must be at least 1, got 0"),
])
def test_bad_input_is_one_line_and_exit_2(argv, needle, capsys):
    assert main(["describe", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and "\n" not in err and "Traceback" not in err
