"""Search strategies: the stages of a run, a toy strategy written as one module, and resuming run folders
written before the strategy setting existed."""
import json

import numpy as np
import pytest
import yaml

from search.cli import main as opscore
from search.config import SearchConfig
from search.run import run_search
from search.strategies import STRATEGIES, SearchContext, Strategy

TINY = dict(space="nb201", dataset="synthetic", channels=4, cells=1, val_channels=4, val_cells=1,
            batch_size=8, iterations=2, validation_batches=2, seed=3)


class ConvCount(Strategy):
    """A toy strategy: three seeded random cells, the one with the most 3x3 convolutions wins."""

    def propose(self, ctx: SearchContext) -> list[str]:
        rng = np.random.default_rng(ctx.settings.seed)
        state = ctx.space.new_state()
        cands = []
        for _ in range(3):
            for e in state.edge_ids():
                state.decide(e, state.candidates(e)[rng.integers(len(state.candidates(e)))])
            cands.append(ctx.space.format_genotype(ctx.space.genotype_from_state(state)))
            state = ctx.space.new_state()
        self.log = [("propose", len(cands))]
        return list(dict.fromkeys(cands))

    def validate(self, ctx: SearchContext, candidates: list[str]) -> dict[str, float]:
        self.log.append(("validate", len(candidates)))
        return {g: float(g.count("nor_conv_3x3")) for g in candidates}

    def details(self, ctx: SearchContext) -> dict:
        return {"stages": self.log}


@pytest.fixture
def toy_strategy(monkeypatch):
    """ConvCount registered as 'toy' for one test."""
    monkeypatch.setitem(STRATEGIES._items, "toy", ConvCount)
    monkeypatch.setattr(ConvCount, "name", "toy", raising=False)


def test_a_toy_strategy_runs_through_the_stages(tmp_path, toy_strategy):
    res = run_search(SearchConfig(**TINY, strategy="toy"), tmp_path / "run", progress=False)
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


def test_an_unknown_strategy_is_one_line(capsys, tmp_path):
    assert opscore(["search", "--strategy", "nope", "--dataset", "synthetic", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "unknown search strategy 'nope'" in err and "zcpt" in err and "Traceback" not in err


def test_a_run_folder_written_before_the_strategy_setting_still_resumes(tmp_path):
    cfg = SearchConfig(**TINY)
    full = run_search(cfg, tmp_path / "full", progress=False)
    part = tmp_path / "part"
    run_search(SearchConfig(**{**TINY, "iterations": 1}), part, progress=False)
    saved = yaml.safe_load((part / "config.yaml").read_text())
    del saved["strategy"]  # the layout of earlier versions
    saved["iterations"] = 2
    (part / "config.yaml").write_text(yaml.safe_dump(saved, sort_keys=False))
    (part / "result.json").unlink()
    resumed = run_search(cfg, part, resume=True, progress=False)
    assert resumed["genotype"] == full["genotype"]
    assert resumed["proposal_seconds"][0] == json.loads((part / "proposals.json").read_text())[0]["seconds"]
    assert (part / "decisions.jsonl").read_text() == (tmp_path / "full" / "decisions.jsonl").read_text()
