"""End-to-end: a complete tiny search, determinism, the run directory, resume."""
import json

import pytest

from search.config import SearchConfig
from search.plugins import search_config
from search.search_run import run_search
from supernet.spaces.nb201 import parse_arch_str

TINY = dict(space="nb201", dataset="synthetic", channels=4, cells=1, val_channels=4, val_cells=1,
            batch_size=8, iterations=2, validation_batches=2, seed=3)


def tiny(**kw) -> SearchConfig:
    return search_config(**{**TINY, **kw}).validate()


@pytest.mark.slow
def test_tiny_search_writes_a_valid_run_dir(tmp_path):
    res = run_search(tiny(), tmp_path / "run", progress=False)
    d = tmp_path / "run"
    for name in ("config.yaml", "result.json", "decisions.jsonl", "candidates.json", "proposals.json", "search.log"):
        assert (d / name).is_file(), name
    assert list((d / "tb").iterdir())
    result = json.loads((d / "result.json").read_text())
    assert result == json.loads(json.dumps(res))
    for key in ("space", "genotype", "seed", "seconds", "proposal_seconds", "validation_seconds"):
        assert key in result
    parse_arch_str(result["genotype"])
    assert result["perturbations_per_iteration"] == 30  # |O||E| for random order
    rows = [json.loads(l) for l in (d / "decisions.jsonl").read_text().splitlines()]
    assert len(rows) == 2 * 6
    assert {r["edge"] for r in rows if r["iteration"] == 0} == {"1<-0", "2<-0", "2<-1", "3<-0", "3<-1", "3<-2"}
    for r in rows:  # zc-pt keeps the op whose removal gives the lowest score
        assert r["choice"] == min(r["scores"], key=r["scores"].get)
    cands = json.loads((d / "candidates.json").read_text())
    assert result["genotype"] == max(cands, key=lambda c: c["validation_score"])["genotype"]


@pytest.mark.slow
def test_same_config_same_genotype(tmp_path):
    a = run_search(tiny(order="random", seed=5), tmp_path / "a", progress=False)
    b = run_search(tiny(order="random", seed=5), tmp_path / "b", progress=False)
    assert a["genotype"] == b["genotype"]
    da = (tmp_path / "a" / "decisions.jsonl").read_text()
    assert da == (tmp_path / "b" / "decisions.jsonl").read_text()


def test_fixed_order_decides_edges_input_to_output(tmp_path):
    run_search(tiny(order="fixed", iterations=1, scorer="disc-zc"), tmp_path / "r", progress=False)
    rows = [json.loads(l) for l in (tmp_path / "r" / "decisions.jsonl").read_text().splitlines()]
    assert [r["edge"] for r in rows] == ["1<-0", "2<-0", "2<-1", "3<-0", "3<-1", "3<-2"]
    for r in rows:  # disc-zc keeps the argmax
        assert r["choice"] == max(r["scores"], key=r["scores"].get)


@pytest.mark.slow
def test_resume_continues_exactly(tmp_path):
    full = run_search(tiny(iterations=3), tmp_path / "full", progress=False)
    part = tmp_path / "part"
    run_search(tiny(iterations=3), part, progress=False)
    # simulate a kill after the first proposal: keep only its checkpoint
    props = json.loads((part / "proposals.json").read_text())[:1]
    (part / "proposals.json").write_text(json.dumps(props))
    (part / "result.json").unlink()
    resumed = run_search(tiny(iterations=3), part, resume=True, progress=False)
    assert resumed["genotype"] == full["genotype"]
    assert (part / "decisions.jsonl").read_text() == (tmp_path / "full" / "decisions.jsonl").read_text()


@pytest.mark.slow
@pytest.mark.parametrize("earlier_layout", [False, True])
def test_resume_during_validation_keeps_the_scored_candidates(tmp_path, earlier_layout):
    """Also from a validation.json of the layout before it held seconds (a plain {genotype: total})."""
    full = run_search(tiny(iterations=3, seed=4), tmp_path / "full", progress=False)
    cands = json.loads((tmp_path / "full" / "candidates.json").read_text())
    saved = json.loads((tmp_path / "full" / "validation.json").read_text())
    assert saved["totals"] == {c["genotype"]: c["validation_score"] for c in cands}
    assert 0 < saved["seconds"] <= full["validation_seconds"]
    assert len(cands) >= 2
    part = tmp_path / "part"
    run_search(tiny(iterations=3, seed=4), part, progress=False)
    # simulate a kill after the first candidate was validated; mark its total and time so reuse is visible
    loser = min(cands, key=lambda c: c["validation_score"])
    saved = {loser["genotype"]: 1e12} if earlier_layout else {"totals": {loser["genotype"]: 1e12}, "seconds": 5000.0}
    (part / "validation.json").write_text(json.dumps(saved))
    for name in ("result.json", "candidates.json"):
        (part / name).unlink()
    resumed = run_search(tiny(iterations=3, seed=4), part, resume=True, progress=False)
    assert resumed["genotype"] == loser["genotype"] != full["genotype"]  # the checkpointed total was kept
    if not earlier_layout:
        assert resumed["validation_seconds"] >= 5000 and resumed["seconds"] >= 5000  # and its time counted
    assert json.loads((part / "validation.json").read_text())["totals"][loser["genotype"]] == 1e12  # current layout
    again = {c["genotype"]: c["validation_score"] for c in json.loads((part / "candidates.json").read_text())}
    for c in cands:  # every other candidate was scored afresh, exactly as in the uninterrupted run
        assert again[c["genotype"]] == (1e12 if c is loser else c["validation_score"])


def _full_and_killed_in_iteration_1(tmp_path, cfg, kill_after_steps):
    """The uninterrupted run's result, and the directory of the same run killed after 3 steps of iteration 1."""
    from conftest import Killed
    full = run_search(tiny(**cfg), tmp_path / "full", progress=False)
    kill_after_steps(iteration=1, steps=3)
    with pytest.raises(Killed):
        run_search(tiny(**cfg), tmp_path / "part", progress=False)
    return full, tmp_path / "part"


@pytest.mark.slow
@pytest.mark.parametrize("order, rescored", [("random", 3), ("global-op-iter", 3 + 2 + 1), ("global-edge-once", 3)])
def test_resume_inside_a_proposal_iteration_continues_exactly(tmp_path, monkeypatch, kill_after_steps,
                                                              order, rescored):
    from scoring.scorers.zero_cost import ZeroCostPT
    cfg = dict(order=order, iterations=2, seed=6)
    full, part = _full_and_killed_in_iteration_1(tmp_path, cfg, kill_after_steps)
    first = json.loads((part / "proposals.json").read_text())
    assert len(first) == 1
    steps = json.loads((part / "proposal_steps.json").read_text())["steps"]
    assert 0 < steps[0]["elapsed"] <= steps[1]["elapsed"] <= steps[2]["elapsed"]
    steps[-1]["elapsed"] = 7000.0  # the killed run's seconds in iteration 1, made large to be visible
    (part / "proposal_steps.json").write_text(json.dumps({"iteration": 1, "steps": steps}))
    scored = []
    real = ZeroCostPT.score_edge
    monkeypatch.setattr(ZeroCostPT, "score_edge", lambda self, e, b: scored.append(e) or real(self, e, b))
    resumed = run_search(tiny(**cfg), part, resume=True, progress=False)
    # of iteration 1's 6 edges, the 3 decided before the kill are not scored again; the rest are
    # scored as the order prescribes (once each, or every remaining edge at every -iter step)
    assert len(scored) == rescored
    assert resumed["genotype"] == full["genotype"]
    assert resumed["perturbations_per_iteration"] == full["perturbations_per_iteration"]
    assert (part / "decisions.jsonl").read_text() == (tmp_path / "full" / "decisions.jsonl").read_text()
    strip = lambda d: [{k: v for k, v in p.items() if k != "seconds"} for p in json.loads((d / "proposals.json").read_text())]
    assert strip(part) == strip(tmp_path / "full")
    assert not (part / "proposal_steps.json").exists()
    assert resumed["proposal_seconds"][0] == first[0]["seconds"]
    assert resumed["proposal_seconds"][1] >= 7000  # time spent before the kill counts
    assert resumed["seconds"] >= 7000 + first[0]["seconds"] + resumed["validation_seconds"]


@pytest.mark.slow
def test_resume_reads_step_records_of_the_layout_without_elapsed(tmp_path, kill_after_steps):
    """Step records written before they held the iteration's seconds still resume (their time is not counted)."""
    cfg = dict(order="random", iterations=2, seed=6)
    full, part = _full_and_killed_in_iteration_1(tmp_path, cfg, kill_after_steps)
    saved = json.loads((part / "proposal_steps.json").read_text())
    for step in saved["steps"]:
        del step["elapsed"]
    (part / "proposal_steps.json").write_text(json.dumps(saved))
    resumed = run_search(tiny(**cfg), part, resume=True, progress=False)
    assert resumed["genotype"] == full["genotype"]
    assert (part / "decisions.jsonl").read_text() == (tmp_path / "full" / "decisions.jsonl").read_text()


@pytest.mark.slow
def test_existing_run_dir_needs_resume(tmp_path):
    from runtime.rundir import RunFolderError
    run_search(tiny(iterations=1), tmp_path / "r", progress=False)
    with pytest.raises(RunFolderError, match="--resume"):
        run_search(tiny(iterations=1), tmp_path / "r", progress=False)
    with pytest.raises(RunFolderError, match="settings differ"):
        run_search(tiny(iterations=1, seed=9), tmp_path / "r", resume=True, progress=False)
