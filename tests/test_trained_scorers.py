"""Training-based scorers (darts-alpha, darts-pt, disc-acc) on planted toys and through `opscore search`."""
from __future__ import annotations

import json

import pytest
import torch

from scoring.scorers import SCORERS, ScoringContext
from search.batches import BatchStream
from search.cli import main
from search.config import SearchConfig
from search.plugins import search_config
from search.factory import scoring_settings
from search.supernet_train.config import SupernetTrainConfig
from search.supernet_train.loading import load_for_search
from search.supernet_train.supernet_run import train_supernet
from search.proposals import DecisionLog, propose
from supernet.spaces.space import TopologyGroup
from supernet.spaces.nb201 import NB201_EDGES, NB201_OPS, NB201Genotype

from test_supernet_train_toy import ToyData, ToySpace, toy_space_registered  # noqa: F401  (fixture)


@pytest.fixture(autouse=True)
def _toy(toy_space_registered):
    """Every test here names the toy space in its search settings."""


@pytest.fixture(scope="module")
def toy_supernet(tmp_path_factory):
    """A toy supernet whose weights are trained but whose alphas stay at their random init (no alpha
    updates): the planted op must be found from accuracy, not from alpha."""
    out = tmp_path_factory.mktemp("toy") / "sn"
    cfg = SupernetTrainConfig(space="toy", method="darts", epochs=20, arch_start_epoch=20, batch_size=32, seed=0,
                              lr=0.2, eval_batches=0, channels_last=False)
    train_supernet(cfg, out, progress=False, space=ToySpace(), dataset=ToyData(512, seed=1))
    return out / "supernet.pt"


def _scorer(path, scorer: str, **kw):
    space = ToySpace()
    cfg = search_config(space="toy", scorer=scorer, supernet=str(path), batch_size=32, channels_last=False, **kw)
    sc, loaded = _context(cfg, space, ToyData(512, seed=1))
    return space, loaded.state, loaded.supernet, sc, loaded.tuner


def _context(cfg: SearchConfig, space, data):
    """The scorer of `cfg` on the trained supernet it names, as `opscore search` wires it (search.factory)."""
    settings = scoring_settings(cfg)
    loaded = load_for_search(settings.supernet, space, torch.device("cpu"), 2, dataset=data)
    ctx = ScoringContext(space, loaded.supernet, loaded.state, None, trained=loaded.tuner)
    return SCORERS.create(cfg.scorer, ctx=ctx, **settings.scorer_options), loaded


def _propose(space, state, sc, iteration: int = 0, log=None):
    log = log or DecisionLog()
    stream = BatchStream(ToyData(512, seed=1), 32, seed=iteration)
    torch.manual_seed(100 + iteration)
    p = propose(space, sc, state, state.snapshot(), "fixed", stream, 0, iteration, log)
    return p, log


@pytest.mark.slow
def test_darts_pt_keeps_the_planted_op_and_fine_tunes_between_decisions(toy_supernet):
    space, state, model, sc, tuner = _scorer(toy_supernet, "darts-pt", tune_epochs=0.5, accuracy_batches=8)
    trained = {k: v.clone() for k, v in model.state_dict().items()}
    calls = []
    fine_tune = tuner.fine_tune
    tuner.fine_tune = lambda epochs, seed: calls.append(epochs) or fine_tune(epochs, seed)
    with sc.session():
        p, log = _propose(space, state, sc)
        assert p.genotype == "signal-signal"
        assert calls == [0.5]  # after the first decision only: nothing is left after the last
        assert any(not torch.equal(v, trained[k]) for k, v in model.state_dict().items())  # fine-tuned
    for k, v in model.state_dict().items():  # the session restores the trained supernet
        assert torch.equal(v, trained[k]), k
    for r in log.rows:  # darts-pt keeps the op whose removal lowers accuracy most
        assert r["choice"] == min(r["scores"], key=r["scores"].get) == "signal"
        assert r["scores"]["signal"] < r["scores"]["noise"] - 0.1


class ToyTopologySpace(ToySpace):
    """Four chained toy edges, pruned as two nodes (e1, e2) and (e3, e4) that keep one input each."""

    def __init__(self) -> None:
        super().__init__(("e1", "e2", "e3", "e4"))

    def topology_groups(self) -> list[TopologyGroup]:
        return [TopologyGroup("n1", ("e1", "e2"), 1), TopologyGroup("n2", ("e3", "e4"), 1)]

    def genotype_from_state(self, state):
        return tuple(state.decided(e) if state.active(e) else "none" for e in self.edge_names)


def test_darts_pt_fine_tunes_between_topology_decisions_too(tmp_path):
    """DARTS-PT (Wang et al. 2021, Alg. 1) tunes after every projection, op or topology, except the last."""
    space, data = ToyTopologySpace(), ToyData(256, seed=1)
    cfg = SupernetTrainConfig(space="toy", method="darts", epochs=2, batch_size=32, seed=0, lr=0.2,
                              eval_batches=0, channels_last=False, device="cpu")  # the count below is CPU's
    train_supernet(cfg, tmp_path / "sn", progress=False, space=space, dataset=data)
    scfg = search_config(space="toy", scorer="darts-pt", supernet=str(tmp_path / "sn" / "supernet.pt"), batch_size=32,
                        channels_last=False, tune_epochs=0.25, accuracy_batches=2, device="cpu")
    sc, loaded = _context(scfg, space, data)
    state = loaded.state
    calls = []
    fine_tune = loaded.tuner.fine_tune
    loaded.tuner.fine_tune = lambda epochs, seed: calls.append(epochs) or fine_tune(epochs, seed)
    log = DecisionLog()
    with sc.session():
        p = propose(space, sc, state, state.snapshot(), "fixed", BatchStream(data, 32, seed=0), 0, 0, log)
    assert [r["phase"] for r in log.rows] == ["operation"] * 4 + ["topology"] * 2
    assert len(calls) == 4 + 1  # after each op decision (topology follows the last), after node n1, not n2
    assert sum(o == "none" for o in p.genotype.split("-")) == 2


def test_each_proposal_starts_from_the_trained_weights(toy_supernet):
    space, state, model, sc, _ = _scorer(toy_supernet, "darts-pt", tune_epochs=0.5, accuracy_batches=8)
    with sc.session():
        _propose(space, state, sc, 0)  # fine-tunes after its first decision
        _, log1 = _propose(space, state, sc, 1)
    # proposal 1 alone, on a fresh copy of the trained supernet, gives the same scores: proposal 1
    # did not inherit proposal 0's fine-tuning
    space2, state2, _, sc2, _ = _scorer(toy_supernet, "darts-pt", tune_epochs=0.5, accuracy_batches=8)
    with sc2.session():
        _, ref1 = _propose(space2, state2, sc2, 1)
    assert [r["scores"] for r in log1.rows] == [r["scores"] for r in ref1.rows]


def test_disc_acc_keeps_the_planted_op_and_undoes_its_trial_tuning(toy_supernet):
    space, state, model, sc, tuner = _scorer(toy_supernet, "disc-acc", tune_epochs=0.0, disc_tune_epochs=0.25,
                                             accuracy_batches=8)
    trained = {k: v.clone() for k, v in model.state_dict().items()}
    with sc.session():
        p, log = _propose(space, state, sc)
        for k, v in model.state_dict().items():  # every trial fine-tune was undone
            assert torch.equal(v, trained[k]), k
    assert p.genotype == "signal-signal"
    for r in log.rows:  # disc-acc keeps the argmax
        assert r["choice"] == max(r["scores"], key=r["scores"].get) == "signal"


def test_darts_alpha_keeps_argmax_alpha_with_zero_forwards(toy_supernet):
    space, state, model, sc, _ = _scorer(toy_supernet, "darts-alpha")
    with torch.no_grad():  # plant the alphas on the bad op: darts-alpha must follow them, not accuracy
        for e in ("e1", "e2"):
            state.alphas[e].copy_(torch.tensor([0.0, 1.0, -1.0]))  # none, noise, signal
    forwards = []
    model.register_forward_hook(lambda *a: forwards.append(1))
    with sc.session():
        p, log = _propose(space, state, sc)
    assert p.genotype == "noise-noise" and not forwards and sc.evaluations == 0
    assert all(r["choice"] == max(r["scores"], key=r["scores"].get) for r in log.rows)


def test_trained_scorers_need_a_supernet():
    from scoring.scorers.scorer import ScorerSetupError
    space = ToySpace()
    state = space.new_state()
    for name in ("darts-alpha", "darts-pt", "disc-acc"):
        with pytest.raises(ScorerSetupError, match="--supernet"):
            SCORERS.get(name)(ScoringContext(space, torch.nn.Identity(), state, None))


# ------------------------------------------------------------------------- through the CLI
SMALL = ["--space", "nb201", "--dataset", "synthetic", "--batch-size", "32", "--no-progress"]


@pytest.fixture(scope="module")
def nb201_supernet(tmp_path_factory):
    out = tmp_path_factory.mktemp("nb201") / "sn"
    assert main(["train-supernet", *SMALL, "--method", "darts", "--epochs", "1", "--channels", "2", "--cells", "1",
                 "--seed", "1", "--eval-batches", "1", "--arch-lr", "0.05", "--out", str(out)]) == 0
    return out


def _search(tmp_path, supernet, scorer, *extra):
    out = tmp_path / scorer
    assert main(["search", *SMALL, "--scorer", scorer, "--supernet", str(supernet / "supernet.pt"), "-N", "1",
                 "-V", "1", "--val-channels", "2", "--val-cells", "1", "--seed", "2", "--out", str(out), *extra]) == 0
    res = json.loads((out / "result.json").read_text())
    rows = [json.loads(l) for l in (out / "decisions.jsonl").read_text().splitlines()]
    return res, rows


@pytest.mark.slow
def test_cli_train_supernet_then_darts_alpha(tmp_path, nb201_supernet):
    res, rows = _search(tmp_path, nb201_supernet, "darts-alpha")
    sn = torch.load(nb201_supernet / "supernet.pt", weights_only=True)
    expected = NB201Genotype(tuple(NB201_OPS[int(sn["alphas"][e].argmax())] for e in NB201_EDGES)).arch_str()
    assert res["genotype"] == expected
    assert json.loads((nb201_supernet / "result.json").read_text())["genotype"] == expected
    assert len(rows) == 6 and all(r["direction"] == "max" for r in rows)


@pytest.mark.slow
@pytest.mark.parametrize("scorer, pick", [("darts-pt", min), ("disc-acc", max)])
def test_cli_accuracy_scorers(tmp_path, nb201_supernet, scorer, pick):
    res, rows = _search(tmp_path, nb201_supernet, scorer, "--tune-epochs", "0.2", "--accuracy-batches", "1",
                        "--order", "random")
    assert len(rows) == 6
    for r in rows:
        assert r["choice"] == pick(r["scores"], key=r["scores"].get)
        assert all(0.0 <= v <= 1.0 for v in r["scores"].values())
    decided = NB201Genotype(tuple(r["choice"] for r in sorted(rows, key=lambda r: NB201_EDGES.index(r["edge"]))))
    assert res["genotype"] == decided.arch_str()


def _user_error(capsys, argv: list[str], needle: str) -> None:
    """`opscore ...` exits with status 2 and one error line naming the problem (main catches user errors)."""
    assert main(argv) == 2
    err = [l for l in capsys.readouterr().err.splitlines() if "error" in l]
    assert len(err) == 1 and needle in err[0], err


@pytest.mark.parametrize("extra, needle", [
    (["--scorer", "darts-pt"], "needs a trained supernet"),
    (["--scorer", "darts-alpha"], "needs trained alphas"),
    (["--scorer", "darts-pt", "--supernet", "/nonexistent/supernet.pt"], "does not exist"),
])
def test_search_user_errors(tmp_path, capsys, extra, needle):
    _user_error(capsys, ["search", *SMALL, "--channels", "2", "--cells", "1", "-N", "1", "-V", "1", *extra,
                         "--out", str(tmp_path / "r")], needle)


@pytest.mark.slow
def test_search_refuses_a_mismatched_supernet(tmp_path, capsys, nb201_supernet):
    bad = tmp_path / "bad.pt"
    bad.write_text("not a checkpoint")
    for i, (extra, needle) in enumerate(((["--supernet", str(bad)], "is damaged"),
                                         (["--supernet", str(nb201_supernet / "supernet.pt"), "--channels", "8"],
                                          "--channels 8"),
                                         (["--supernet", str(nb201_supernet / "supernet.pt"), "--space", "darts"],
                                          "is a 'nb201' supernet"))):
        _user_error(capsys, ["search", *SMALL, "--scorer", "darts-pt", "-N", "1", "-V", "1", *extra,
                             "--out", str(tmp_path / f"r{i}")], needle)


@pytest.mark.parametrize("extra, needle", [
    (["--method", "nope"], "unknown method 'nope'"),
    (["--train-portion", "1.5"], "--train-portion"),
    (["--reg", "kl", "--tse-steps", "0"], "--tse-steps"),
])
def test_train_supernet_user_errors(tmp_path, capsys, extra, needle):
    _user_error(capsys, ["train-supernet", *SMALL, "--epochs", "1", *extra, "--out", str(tmp_path / "r")], needle)


def test_train_supernet_needs_resume_for_an_existing_run(capsys, nb201_supernet):
    _user_error(capsys, ["train-supernet", *SMALL, "--method", "darts", "--epochs", "1", "--channels", "2", "--cells",
                         "1", "--seed", "1", "--eval-batches", "1", "--arch-lr", "0.05", "--out", str(nb201_supernet)],
                "--resume")
    _user_error(capsys, ["train-supernet", *SMALL, "--method", "drnas", "--epochs", "1", "--channels", "2", "--cells",
                         "1", "--seed", "1", "--eval-batches", "1", "--arch-lr", "0.05", "--out", str(nb201_supernet),
                         "--resume"], "settings differ (method)")
