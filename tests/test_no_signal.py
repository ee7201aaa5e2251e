"""Scoring data without information: a warning naming the cause, `no_signal` in result.json and exit status 4."""
import json
import logging
import math

import pytest
import torch
from PIL import Image

from search.batches import BatchStream
from search.cli import main as opscore
from search.cli.errors import NO_SIGNAL
from search.strategies.strategy import no_signal
from runtime.data import SyntheticImages


@pytest.mark.parametrize("scores,silent", [
    ({"a": -math.inf, "b": -math.inf}, True), ({"a": math.nan, "b": -math.inf}, True),
    ({"a": -math.inf, "b": 0.0}, False), ({"a": math.nan, "b": 1.0}, False), ({"a": math.inf}, False),
    ({"a": -math.inf}, False),  # a single candidate: nothing was chosen
])
def test_no_signal_only_when_no_score_informs(scores, silent):
    assert (no_signal(scores) is not None) == silent


def test_identical_images_warn_once(caplog):
    same = SyntheticImages(8, 2, image_size=4)
    same.x[:] = 0.5
    with caplog.at_level(logging.WARNING):
        BatchStream(same, 4, seed=0).take(2)
        BatchStream(SyntheticImages(8, 2, image_size=4), 4, seed=0).take(2)
    warnings = [r.getMessage() for r in caplog.records if "all identical" in r.getMessage()]
    assert len(warnings) == 1 and "carry no information" in warnings[0]


def test_search_on_identical_images_exits_4_with_the_reason(tmp_path, capsys):
    for c in "ab":
        (tmp_path / "d" / c).mkdir(parents=True)
        for i in range(4):
            Image.new("RGB", (8, 8), (90, 90, 90)).save(tmp_path / "d" / c / f"{i}.png")
    code = opscore(["search", "--space", "nb201", "--strategy", "naswot", "--samples", "2", "--dataset", "imagefolder",
                    "--data-root", str(tmp_path / "d"), "--val-channels", "4", "--val-cells", "1",
                    "--batch-size", "4", "--no-progress", "--out", str(tmp_path / "r")])
    err = [l for l in capsys.readouterr().err.splitlines() if l.startswith("opscore")]
    assert code == NO_SIGNAL and len(err) == 1 and "-inf or NaN" in err[0], err
    result = json.loads((tmp_path / "r" / "result.json").read_text())
    assert "carry no information" in result["no_signal"] and float(result["validation_score"]) == -math.inf


def test_informative_scores_have_no_no_signal():
    assert no_signal({"a": -math.inf, "b": float(torch.tensor(2.0))}) is None
