"""Search strategies: the stages of a run, a toy strategy written as one module, and resuming run folders
written before the strategy setting existed."""
import json

from dataclasses import dataclass

import numpy as np
import pytest
import yaml

from runtime.settings import setting

from search.cli import main as opscore
from search.plugins import search_config
from search.search_run import run_search
from search.strategies import STRATEGIES, SearchContext, Strategy

CORE = dict(space="nb201", dataset="synthetic", channels=4, cells=1, val_channels=4, val_cells=1, batch_size=8, seed=3)
TINY = dict(CORE, iterations=2, validation_batches=2)


@dataclass
class ConvCountSettings:
    """The toy strategy's two options: how many cells it draws and which op it counts."""

    toy_draws: int = setting(3, "toy: random cells drawn", minimum=1)
    toy_op: str = setting("nor_conv_3x3", "toy: the op whose count ranks a cell",
                          choices=("nor_conv_3x3", "nor_conv_1x1", "skip_connect"))


class ConvCount(Strategy):
    """A toy strategy: `toy_draws` seeded random cells, the one with the most `toy_op` wins."""

    Settings = ConvCountSettings

    def propose(self, ctx: SearchContext) -> list[str]:
        rng = np.random.default_rng(ctx.settings.seed)
        state = ctx.space.new_state()
        cands = []
        for _ in range(self.settings.toy_draws):
            for e in state.edge_ids():
                state.decide(e, state.candidates(e)[rng.integers(len(state.candidates(e)))])
            cands.append(ctx.space.format_genotype(ctx.space.genotype_from_state(state)))
            state = ctx.space.new_state()
        self.log = [("propose", len(cands))]
        return list(dict.fromkeys(cands))

    def validate(self, ctx: SearchContext, candidates: list[str]) -> dict[str, float]:
        self.log.append(("validate", len(candidates)))
        return {g: float(g.count(self.settings.toy_op)) for g in candidates}

    def details(self, ctx: SearchContext) -> dict:
        return {"stages": self.log}


@pytest.fixture
def toy_strategy(monkeypatch):
    """ConvCount registered as 'toy' for one test."""
    monkeypatch.setitem(STRATEGIES._items, "toy", ConvCount)
    monkeypatch.setattr(ConvCount, "name", "toy", raising=False)


def test_a_toy_strategy_runs_through_the_stages(tmp_path, toy_strategy):
    res = run_search(search_config(**CORE, strategy="toy"), tmp_path / "run", progress=False)
    d = tmp_path / "run"
    saved = json.loads((d / "result.json").read_text())
    assert saved == json.loads(json.dumps(res))
    assert saved["strategy"] == "toy" and yaml.safe_load((d / "config.yaml").read_text())["strategy"] == "toy"
    rng = np.random.default_rng(3)  # the same three draws, by hand
    ops = ["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"]
    drawn = ["|{}~0|+|{}~0|{}~1|+|{}~0|{}~1|{}~2|".format(*[ops[rng.integers(5)] for _ in range(6)]) for _ in range(3)]
    assert saved["genotype"] == max(drawn, key=lambda g: g.count("nor_conv_3x3"))  # first of the ties
    assert saved["stages"] == [["propose", 3], ["validate", len(set(drawn))]]
    for key in ("space", "seed", "seconds", "genotype_json", "validation_score"):
        assert key in saved
    assert (d / "search.log").is_file() and list((d / "tb").iterdir())


def _tiny_flags(tmp_path) -> list[str]:
    return ["--space", "nb201", "--dataset", "synthetic", "--batch-size", "8", "--seed", "3", "--no-progress",
            "--out", str(tmp_path / "run")]


def test_a_strategy_with_options_is_one_module_flags_yaml_and_errors_included(tmp_path, capsys, toy_strategy):
    """The toy strategy above (a module of its own: its code, its Settings, its registration) gets flags, YAML
    keys, range and choice checks, a --help group and the one-line refusal under another strategy, for free."""
    help_text = " ".join(main_help(capsys).split())
    assert "options of strategy 'toy': --toy-draws TOY_DRAWS toy: random cells drawn (default: 3)" in help_text
    assert opscore(["search", "--strategy", "toy", "--toy-draws", "5", "--toy-op", "skip_connect",
                    *_tiny_flags(tmp_path)]) == 0
    saved = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    assert (saved["toy_draws"], saved["toy_op"]) == (5, "skip_connect") and "iterations" not in saved
    rng = np.random.default_rng(3)  # five draws by hand, ranked by skip_connect
    ops = ["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"]
    drawn = ["|{}~0|+|{}~0|{}~1|+|{}~0|{}~1|{}~2|".format(*[ops[rng.integers(5)] for _ in range(6)]) for _ in range(5)]
    result = json.loads((tmp_path / "run" / "result.json").read_text())
    assert result["genotype"] == max(dict.fromkeys(drawn), key=lambda g: g.count("skip_connect"))
    # the same options from YAML, dashes or underscores
    (tmp_path / "toy.yaml").write_text("strategy: toy\ntoy-draws: 2\ntoy_op: nor_conv_1x1\n")
    assert opscore(["search", "--config", str(tmp_path / "toy.yaml"), *_tiny_flags(tmp_path / "y")]) == 0
    assert yaml.safe_load((tmp_path / "y" / "run" / "config.yaml").read_text())["toy_draws"] == 2
    capsys.readouterr()
    for argv, needle in ((["--toy-draws", "2"], "--toy-draws (command line) is an option of strategy 'toy'; this "
                                                "run uses 'zcpt': drop it, or pass --strategy toy"),
                         (["--strategy", "toy", "--toy-draws", "0"], "toy_draws must be at least 1, got 0"),
                         (["--config", str(tmp_path / "toy.yaml"), "--strategy", "naswot"],
                          "is an option of strategy 'toy'; this run uses 'naswot'")):
        assert opscore(["search", *argv, *_tiny_flags(tmp_path / "bad")]) == 2
        err = capsys.readouterr().err.strip()
        assert needle in err and len(err.splitlines()) == 1, err


def main_help(capsys) -> str:
    with pytest.raises(SystemExit):
        opscore(["search", "--help"])
    return capsys.readouterr().out


def test_an_unknown_strategy_is_one_line(capsys, tmp_path):
    assert opscore(["search", "--strategy", "nope", "--dataset", "synthetic", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "unknown search strategy 'nope'" in err and "zcpt" in err and "Traceback" not in err


@pytest.mark.slow
def test_a_run_folder_written_before_the_strategy_setting_still_resumes(tmp_path):
    cfg = search_config(**TINY)
    full = run_search(cfg, tmp_path / "full", progress=False)
    part = tmp_path / "part"
    run_search(search_config(**{**TINY, "iterations": 1}), part, progress=False)
    saved = yaml.safe_load((part / "config.yaml").read_text())
    del saved["strategy"]  # the layout of earlier versions
    saved["iterations"] = 2
    (part / "config.yaml").write_text(yaml.safe_dump(saved, sort_keys=False))
    (part / "result.json").unlink()
    resumed = run_search(cfg, part, resume=True, progress=False)
    assert resumed["genotype"] == full["genotype"]
    assert resumed["proposal_seconds"][0] == json.loads((part / "proposals.json").read_text())[0]["seconds"]
    assert (part / "decisions.jsonl").read_text() == (tmp_path / "full" / "decisions.jsonl").read_text()
