"""Path settings are recorded absolute, and compared as paths when a run resumes or lends its proposals."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from runtime.rundir import settings_differences
from runtime.settings import Schema, path_fields, schema_of
from search.analysis.op_scoring import OpScoringConfig
from search.analysis.proxy_study import ProxyStudyConfig
from search.benchmarks import BenchmarkSettings
from search.cli import main
from search.cli.fear_threshold_cmd import FearThresholdConfig
from search.config import SearchConfig
from search.plugins import load_search_config
from search.supernet_train.config import SupernetTrainConfig
from train_final.recipe import Recipe

from test_drill import image_folder

CLASSES = [SearchConfig, SupernetTrainConfig, ProxyStudyConfig, OpScoringConfig, FearThresholdConfig, Recipe,
           BenchmarkSettings]


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_every_data_folder_and_file_setting_is_a_path(cls):
    """The settings that name files or folders are path settings; `out` (free on resume) and names are not."""
    names = set(path_fields(cls))
    expected = {"data_root", "benchmark_table", "nats_bench", "nb301_models", "supernet", "score_cache",
                "proposals_from"} & {f for f in cls.__dataclass_fields__}
    assert names == expected
    assert "out" not in names and "nb301_python" not in names  # a python may be a command on PATH


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_the_schema_of_a_settings_class_is_its_defaults_and_path_settings(cls):
    """What --resume compares with comes from the class alone: every field's default, every path setting."""
    schema = schema_of(cls)
    fresh = cls()
    assert schema.defaults == {f: getattr(fresh, f) for f in cls.__dataclass_fields__}
    assert schema.paths == path_fields(cls) and set(schema.paths) <= set(schema.defaults)


def test_relative_and_home_paths_are_made_absolute_where_they_are_read(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    cfg = load_search_config(None, {"data_root": "data/../imgs/train", "benchmark_table": "~/t.csv",
                                             "nb301_python": "python3", "out": "runs/x"})
    assert cfg.data_root == str(tmp_path / "imgs" / "train")
    assert cfg.benchmark_table == str(tmp_path / "home" / "t.csv")
    assert (cfg.nb301_python, cfg.out, cfg.proposals_from) == ("python3", "runs/x", None)
    # a YAML file's relative path is taken from the working directory, as a flag's is
    (tmp_path / "c.yaml").write_text("strategy: naswot\nscore_cache: cache.jsonl\n")
    assert load_search_config(tmp_path / "c.yaml", {}).score_cache == str(tmp_path / "cache.jsonl")


def test_an_empty_path_is_one_line_not_the_working_directory(tmp_path, capsys):
    assert main(["search", "--data-root", "", "--dataset", "imagefolder", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip()
    assert "data_root must name a file or folder, got an empty text" in err and len(err.splitlines()) == 1


def test_paths_compare_as_paths_also_against_a_folder_that_kept_them_relative(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    saved = {"data_root": "imgs", "seed": 0}            # written before paths were recorded absolute
    mine = {"data_root": str(tmp_path / "imgs"), "seed": 0}
    assert settings_differences(mine, saved, schema=Schema(paths=("data_root",))) == []
    assert settings_differences(mine, saved) == ["data_root"]  # as text they differ
    assert settings_differences({**mine, "data_root": str(tmp_path / "other")}, saved,
                                schema=Schema(paths=("data_root",))) == ["data_root"]
    assert settings_differences({"data_root": None}, {"data_root": None}, schema=Schema(paths=("data_root",))) == []


TINY = ["--space", "nb201", "--channels", "4", "--cells", "1", "--val-channels", "4", "--val-cells", "1", "-N", "1",
        "-V", "1", "--batch-size", "4", "--dataset", "imagefolder", "--no-progress"]


@pytest.mark.slow
def test_a_run_started_with_a_relative_data_folder_resumes_and_lends_from_anywhere(tmp_path, monkeypatch, capsys):
    """The reported bug: a run given `--data-root imgs` refused the same folder given absolute (and a relative path
    was recorded as given, so from another directory it named another folder)."""
    here, there = tmp_path / "here", tmp_path / "there"
    there.mkdir()
    image_folder(here / "imgs")
    monkeypatch.chdir(here)
    assert main(["search", *TINY, "--data-root", "imgs", "--out", "first"]) == 0
    recorded = yaml.safe_load((here / "first" / "config.yaml").read_text())
    assert recorded["data_root"] == str(here / "imgs")
    monkeypatch.chdir(there)
    assert main(["search", *TINY, "--data-root", "../here/imgs", "--out", str(here / "first"), "--resume"]) == 0
    assert main(["search", *TINY, "--data-root", str(here / "imgs"), "--validator", "tse", "--val-epochs", "1",
                 "--val-steps-per-epoch", "1", "--proposals-from", "../here/first", "--out", "second"]) == 0
    assert yaml.safe_load((there / "second" / "config.yaml").read_text())["proposals_from"] == str(here / "first")
    capsys.readouterr()
    # another folder is still another folder
    image_folder(there / "imgs")
    assert main(["search", *TINY, "--data-root", "imgs", "--out", str(here / "first"), "--resume"]) == 2
    err = capsys.readouterr().err.strip()
    assert "settings differ (data_root)" in err and len(err.splitlines()) == 1
    # a folder written by an earlier version, with the path as it was given, resumes from where it was started
    old = here / "first" / "config.yaml"
    old.write_text(yaml.safe_dump({**recorded, "data_root": "imgs"}, sort_keys=False))
    monkeypatch.chdir(here)
    assert main(["search", *TINY, "--data-root", os.path.join(str(here), "imgs"), "--out", "first", "--resume"]) == 0
    assert Path(here / "first" / "result.json").exists()
