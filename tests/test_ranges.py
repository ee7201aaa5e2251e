"""Out-of-range sizes, seeds and batch sizes: one line naming the setting, exit status 2, before any work."""
import pytest

from runtime.seeds import SEED_MAX
from search.cli import main as opscore
from train_final.cli import main as train_final

SIZES = ["--channels", "--cells"]
VAL_SIZES = ["--val-channels", "--val-cells"]
BAD_SIZES = ["0", "-3"]
BAD_SEEDS = ["-1", str(SEED_MAX + 1)]
COMMANDS = {
    "search": ["search", "--space", "nb201", "--dataset", "synthetic"],
    "proxies": ["proxies", "--space", "nb201", "--dataset", "synthetic"],
    "op-scoring": ["analyze", "op-scoring", "--space", "nb201", "--dataset", "synthetic"],
    "train-supernet": ["train-supernet", "--space", "nb201", "--dataset", "synthetic"],
    "describe": ["describe", "--space", "nb201", "--genotype", "|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|"],
    "train": ["train", "--genotype", "|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|"],
}
CASES = ([(c, f, v) for c in COMMANDS for f in SIZES for v in BAD_SIZES]
         + [("search", f, v) for f in VAL_SIZES for v in BAD_SIZES]
         + [(c, "--seed", v) for c in ("search", "proxies", "train-supernet", "train") for v in BAD_SEEDS]
         + [("search", "--score-seed", "-1"), ("op-scoring", "--seeds", "0,-1"),
            ("train", "--image-size", "0"), ("describe", "--image-size", "0")]
         + [(c, "--batch-size", v) for c in ("search", "proxies", "op-scoring", "train-supernet", "train")
            for v in ("0", "1")]
         + [("search", "--val-batch-size", "1")])


def _one_line_error(code: int, err: str, needle: str) -> None:
    """Exit status 2, exactly one stderr line, naming the setting, no traceback."""
    lines = [l for l in err.splitlines() if l.strip()]
    assert code == 2, err
    assert len(lines) == 1 and needle in lines[0], err
    assert "Traceback" not in err


@pytest.mark.parametrize("command,flag,value", CASES)
def test_out_of_range_is_one_line(tmp_path, capsys, command, flag, value):
    argv = [*COMMANDS[command], flag, value, "--out", str(tmp_path / "run")]
    if command == "describe":
        argv = argv[:-2]
    code = opscore(argv)
    _one_line_error(code, capsys.readouterr().err, flag.lstrip("-").replace("-", "_"))
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("flag,value", [("--channels", "0"), ("--seed", "-1"), ("--image-size", "0"),
                                        ("--batch-size", "1")])
def test_train_final_out_of_range(tmp_path, capsys, flag, value):
    code = train_final([*COMMANDS["train"][1:], flag, value, "--out", str(tmp_path / "run")])
    _one_line_error(code, capsys.readouterr().err, flag.lstrip("-").replace("-", "_"))


def test_set_and_config_file_are_checked_too(tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("channels: 0\n")
    _one_line_error(opscore(["search", "--config", str(cfg), "--dataset", "synthetic"]), capsys.readouterr().err,
                    "channels must be at least 1")
    _one_line_error(train_final([*COMMANDS["train"][1:], "--set", "eval_batch_size=0"]), capsys.readouterr().err,
                    "eval_batch_size must be at least 1")


def test_every_size_seed_and_batch_setting_declares_its_range():
    """A new settings class cannot bring back `0 means the default`: these fields all declare a minimum."""
    import dataclasses

    from search.analysis.op_scoring import OpScoringConfig
    from search.analysis.proxy_study import ProxyStudyConfig
    from search.cli.describe_cmd import DescribeConfig
    from search.cli.fear_threshold_cmd import FearThresholdConfig
    from search.config import SearchConfig
    from search.supernet_train.config import SupernetTrainConfig
    from train_final.recipe import Recipe

    names = {"channels", "cells", "val_channels", "val_cells", "seed", "score_seed", "image_size", "batch_size",
             "val_batch_size", "eval_batch_size"}
    checked = 0
    for cls in (SearchConfig, SupernetTrainConfig, ProxyStudyConfig, OpScoringConfig, DescribeConfig,
                FearThresholdConfig, Recipe):
        for f in dataclasses.fields(cls):
            if f.name in names:
                assert f.metadata.get("minimum") is not None, (cls.__name__, f.name)
                checked += 1
    assert checked >= 20
