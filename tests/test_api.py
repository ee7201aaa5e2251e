"""The Python API (`import opscore`): a search that writes nothing unless asked, genotypes with their space, the
networks the recipes train, and user mistakes as one exception type with the CLI's line."""
import json

import numpy as np
import pytest

import opscore
from supernet.spaces import SPACES

TINY = dict(space="nb201", dataset="synthetic", iterations=1, validation_batches=1, channels=4, cells=1,
            val_channels=4, val_cells=1, batch_size=8)


@pytest.mark.slow
def test_a_search_without_out_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = opscore.search(**TINY)
    assert list(tmp_path.iterdir()) == [] and result.run_dir is None
    assert result.genotype.space == "nb201" and str(result.genotype) == result.to_dict()["genotype"]
    assert result.score == result.to_dict()["validation_score"] and result.seconds > 0
    assert [c["genotype"] for c in result.candidates] == [str(result.genotype)]


@pytest.mark.slow
def test_a_search_with_out_is_the_cli_run_folder(tmp_path):
    result = opscore.search(**TINY, out=tmp_path / "run")
    assert result.run_dir == tmp_path / "run"
    assert result.to_dict() == json.loads((tmp_path / "run" / "result.json").read_text())
    again = opscore.search(**TINY, out=tmp_path / "run", resume=True)
    assert again.genotype == result.genotype and again.score == result.score


@pytest.mark.parametrize("space", SPACES.names())
def test_every_space_genotype_round_trips_and_builds_its_described_network(space):
    """load_genotype(str(g)) == g (and hashes alike); build_network has the parameters `describe` counts."""
    sp = SPACES.create(space)
    text = sp.format_genotype(sp.sample(np.random.default_rng(1)))
    g = opscore.load_genotype(text, space)
    assert g.space == space and str(g) == text and opscore.load_genotype(str(g), space) == g
    assert len({g, opscore.load_genotype(text, space)}) == 1
    sizes = {"channels": 4, "cells": 2 if space != "nb201" else 1} if space not in ("mobilenet", "nb-macro") else {}
    net = opscore.build_network(g, **sizes)
    assert sum(p.numel() for n, p in net.named_parameters() if "auxiliary" not in n) == \
        opscore.describe(g, **sizes)["params"]


@pytest.mark.slow
def test_the_published_darts_v2_has_its_published_size():
    """DARTS V2 at C=36, 20 cells: 3.3M parameters (Liu et al. 2019, Table 1)."""
    g = opscore.load_genotype("DARTS_V2")
    assert g.space == "darts" and round(opscore.describe(g)["params"] / 1e6, 1) == 3.3


@pytest.mark.parametrize("call, kind, needle", [
    (lambda: opscore.search(population=3), opscore.SettingsError,
     "--population (settings) is an option of strategy 'evolution'; this run uses 'zcpt'"),
    (lambda: opscore.search(strategy="nope"), opscore.SettingsError, "unknown search strategy 'nope'; choose one of"),
    (lambda: opscore.search(iterations=0), opscore.SettingsError, "iterations must be at least 1, got 0"),
    (lambda: opscore.search(iterations="3"), opscore.SettingsError, "iterations must be a whole number"),
    (lambda: opscore.load_genotype("not a genotype"), opscore.GenotypeError, "cannot read genotype"),
    (lambda: opscore.build_network("|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|", width=3),
     opscore.SettingsError, "unknown network setting(s) width"),
    (lambda: opscore.build_network("DARTS_V2", dataset="mnist"), opscore.SettingsError, "dataset must be one of"),
])
def test_mistakes_are_one_exception_with_the_cli_line(call, kind, needle):
    with pytest.raises(kind) as info:
        call()
    assert needle in str(info.value) and len(str(info.value).splitlines()) == 1


def test_list_names_every_registry():
    from search.strategies import STRATEGIES
    registered = opscore.list()
    assert registered["strategies"] == STRATEGIES.names() and "nb201" in registered["spaces"]
    assert "cifar10-nb201" in registered["recipes"] and registered["benchmark sources"] == ["table", "nats-bench",
                                                                                             "nb301"]
