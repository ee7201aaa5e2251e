"""Validators of the validation stage: TSE estimators against hand sums, FEAR's stopping, freezing and
early rejection, and rankings of planted architectures."""
import math

import pytest
import torch
from torch import nn

from search.plugins import search_config
from search.validators import TrainingSettings, ValidationContext, build_validator
from search.validators.fear import stage1_budget
from search.validators.training import freeze_input_side, sgd, train_steps
from runtime.settings import SettingsError
from supernet.spaces.space import NetConfig

from test_supernet_train_toy import ToyData, ToySpace

GOOD, BAD = "signal-signal", "noise-noise"


def context(**kw) -> ValidationContext:
    return ValidationContext(ToySpace(), ToyData(256, seed=1), 2, NetConfig(num_classes=2), torch.device("cpu"),
                             seed=0, batch_size=16, **kw)


def settings(**kw) -> dict:
    """Flat validator options (as a run holds them); every validator takes its own."""
    base = dict(val_epochs=3, val_steps_per_epoch=4, val_lr=0.5, fear_window=4, fear_stage2_steps=5)
    return {k: v for k, v in {**base, **kw}.items() if k != "validator"}


def epoch_means(curve, per_epoch):
    losses = [r["loss"] for r in curve]
    return [sum(losses[i:i + per_epoch]) / per_epoch for i in range(0, len(losses), per_epoch)]


@pytest.mark.parametrize("name", ["tse", "tse-e", "tse-ema"])
def test_tse_estimators_equal_hand_sums_over_the_recorded_losses(name):
    s = settings(tse_e=2, tse_gamma=0.5)
    verdict = build_validator(name, s).score(context(), GOOD)
    assert len(verdict.curve) == 3 * 4 and all(r["stage"] == "train" for r in verdict.curve)
    L = epoch_means(verdict.curve, 4)  # L_1, L_2, L_3 by hand
    hand = {"tse": L[0] + L[1] + L[2], "tse-e": L[1] + L[2], "tse-ema": 0.25 * L[0] + 0.5 * L[1] + L[2]}[name]
    assert verdict.score == pytest.approx(-hand, rel=1e-12) and verdict.details["estimate"] == pytest.approx(hand)


@pytest.mark.parametrize("name", ["tse-ema", "fear", "proxy"])
def test_a_validator_ranks_the_planted_architectures(name):
    """`signal` on every edge is learnable, `noise` is not: each validator scores it higher."""
    from scoring.proxies import get_proxy
    ctx = context(proxy=get_proxy("grad_norm"), batches=[(torch.randn(16, 8), torch.randint(0, 2, (16,)))])
    v = build_validator(name, settings(fear_threshold=0.8, val_epochs=10))
    if name == "proxy":  # a zero-cost proxy sees weights and gradients only: noise gets no gradient to its input
        ctx.batches = [(ToyData(16, seed=3).x, ToyData(16, seed=3).y)]
    good, bad = v.score(ctx, GOOD), v.score(ctx, BAD)
    assert good.score > bad.score


def test_same_seed_same_score_whatever_came_before():
    v = build_validator("tse-ema", settings())
    a = v.score(context(), GOOD).score
    v.score(context(), BAD)
    assert v.score(context(), GOOD).score == a


def test_fear_stops_stage_one_exactly_when_the_threshold_is_crossed():
    s = settings(fear_threshold=0.8, val_epochs=10)
    verdict = build_validator("fear", s).score(context(), GOOD)
    stage1 = [r["accuracy"] for r in verdict.curve if r["stage"] == "stage1"]
    w = s["fear_window"]
    means = [sum(stage1[i - w + 1:i + 1]) / w for i in range(w - 1, len(stage1))]
    assert means[-1] >= 0.8 and all(m < 0.8 for m in means[:-1])  # the first step whose window reaches it
    assert verdict.details["stage1_steps"] == len(stage1) < 40
    stage2 = [r for r in verdict.curve if r["stage"] == "stage2"]
    assert len(stage2) == s["fear_stage2_steps"]
    assert verdict.score == pytest.approx(sum(r["accuracy"] for r in stage2[-w:]) / w)


def test_freezing_stops_every_gradient_into_the_frozen_layers():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 2))
    sizes = [p.numel() for p in net.parameters()]  # 128, 16, 256, 16, 32, 2: 450 in all
    frozen = freeze_input_side(net, 0.5)
    assert frozen == ["0.weight", "0.bias"]  # 144 <= 225, and adding 256 would pass half
    assert sum(sizes[:2]) <= 0.5 * sum(sizes) < sum(sizes[:3])
    before = {n: p.detach().clone() for n, p in net.named_parameters()}
    from search.batches import BatchStream
    stream = BatchStream(ToyData(64), 16, seed=0)
    train_steps(net, stream, sgd([p for p in net.parameters() if p.requires_grad], TrainingSettings(val_lr=0.5)), lambda s: 0.1, 3)
    for n, p in net.named_parameters():
        if n in frozen:
            assert p.grad is None and torch.equal(p, before[n])
        else:
            assert not torch.equal(p, before[n])


def test_fear_early_rejects_by_the_ratio_rule():
    assert stage1_budget(100, None, 4.0) == 100 and stage1_budget(100, 7, 4.0) == 28
    assert stage1_budget(10, 7, 4.0) == 10 and stage1_budget(100, 7, 1.5) == 10
    s = settings(fear_threshold=0.8, val_epochs=10, fear_reject_ratio=1.5)
    v = build_validator("fear", s)
    first = v.score(context(), GOOD)
    assert not first.details["rejected"] and v.fewest == first.details["stage1_steps"]
    v.fewest = 2  # as if a candidate had needed 2 steps: 3 are allowed, fewer than the window of 4
    late = v.score(context(), GOOD)
    assert late.details["rejected"] and late.score == -math.inf and late.details["stage1_steps"] == 3
    assert "1.5 x the fastest" in late.details["reason"]
    never = build_validator("fear", settings(fear_threshold=0.99, val_epochs=2)).score(context(), BAD)
    assert never.details["rejected"] and "stayed below 0.99" in never.details["reason"]


@pytest.mark.parametrize("ratio", [1.0, 1.3])
def test_fear_scored_independently_then_settled_equals_the_sequential_run(ratio):
    """Candidates spread over processes are scored as if first, then the ratio rule is applied in candidate
    order (`settle`): scores and details equal the sequential run's, for several orders."""
    import itertools

    from search.validators import validate_candidates
    genotypes = ["signal-signal", "signal-noise", "noise-signal", "noise-noise"]
    s = settings(fear_threshold=0.7, val_epochs=10, fear_reject_ratio=ratio)
    free = build_validator("fear", s)
    free.independent()
    alone: dict = {}
    scores = validate_candidates(free, context(), genotypes, details_out=alone)  # order-free: one pass serves all
    steps = {g: alone[g]["stage1_steps"] for g in genotypes}
    assert len(set(steps.values())) > 1 and free.fewest is not None  # the candidates differ in speed
    rejected_somewhere = False
    for order in list(itertools.permutations(genotypes))[::5]:
        seq_details: dict = {}
        seq = validate_candidates(build_validator("fear", s), context(), list(order),
                                  details_out=seq_details)
        settled = build_validator("fear", s).settle([(g, scores[g], alone[g]) for g in order])
        assert {g: v[0] for g, v in settled.items()} == seq
        assert {g: v[1] for g, v in settled.items()} == seq_details
        rejected_somewhere |= any(d["rejected"] and "x the fastest" in d["reason"] for d in seq_details.values())
    assert rejected_somewhere  # the rule was exercised


def test_fear_restores_the_fastest_from_a_checkpoint():
    v = build_validator("fear", settings())
    v.restore({"a": {"rejected": False, "stage1_steps": 9}, "b": {"rejected": True, "stage1_steps": 3},
               "c": {"rejected": False, "stage1_steps": 5}})
    assert v.fewest == 5


@pytest.mark.parametrize("validator, bad, needle", [
    ("fear", {"val_epochs": 0}, r"val_epochs must be at least 1, got 0 \(settings\)"),
    ("tse-ema", {"tse_gamma": 1.5}, r"--tse-gamma must be in \(0, 1\], got 1.5"),
    ("fear", {"fear_freeze": 1.0}, "--fear-freeze is a share"),
    ("fear", {"fear_reject_ratio": 0.5}, "fear_reject_ratio must be at least 1.0"),
    ("tse", {"val_batch_size": 1}, "val_batch_size must be at least 2")])
def test_bad_validator_settings_are_one_line(validator, bad, needle):
    with pytest.raises(SettingsError, match=needle):
        search_config(validator=validator, **bad)


@pytest.mark.slow
def test_a_search_with_a_training_validator_writes_curves_and_resumes(tmp_path):
    """End to end: --validator fear; each candidate's curve in curves/<k>.jsonl; killed after the first
    candidate's verdict, the resumed search ends as the uninterrupted one (FEAR's fastest restored)."""
    import json

    from search.search_run import run_search
    cfg = search_config(space="nb201", dataset="synthetic", channels=4, cells=1, val_channels=4, val_cells=1,
                       batch_size=8, iterations=3, validation_batches=2, seed=4, validator="fear", val_epochs=2,
                       val_steps_per_epoch=3, fear_threshold=0.15, fear_window=2, fear_stage2_steps=2)
    full = run_search(cfg, tmp_path / "full", progress=False)
    d = tmp_path / "full"
    cands = json.loads((d / "candidates.json").read_text())
    saved = json.loads((d / "validation.json").read_text())
    assert full["validator"] == "fear" and set(saved["details"]) == {c["genotype"] for c in cands}
    for k, c in enumerate(cands):
        rows = [json.loads(line) for line in (d / "curves" / f"{k}.jsonl").read_text().splitlines()]
        assert {r["genotype"] for r in rows} == {c["genotype"]} and rows[0]["stage"] == "stage1"
        assert len(rows) == saved["details"][c["genotype"]]["stage1_steps"] + \
            saved["details"][c["genotype"]].get("stage2_steps", 0)
    part = tmp_path / "part"
    run_search(cfg, part, progress=False)
    first = cands[0]["genotype"]
    (part / "validation.json").write_text(json.dumps({"totals": {first: saved["totals"][first]},
                                                      "details": {first: saved["details"][first]}, "seconds": 1.0}))
    for name in ("result.json", "candidates.json"):
        (part / name).unlink()
    resumed = run_search(cfg, part, resume=True, progress=False)
    assert resumed["genotype"] == full["genotype"]
    assert json.loads((part / "candidates.json").read_text()) == cands


@pytest.mark.slow
def test_proxies_rank_training_validators_beside_the_proxies(tmp_path):
    """`opscore proxies --validators`: each validator's column is its verdict on the architecture, with its
    cost per architecture; a killed study resumes to the same scores (FEAR's fastest restored)."""
    import csv
    import json

    from search.cli import main
    from search.validators import ValidationContext
    from supernet.spaces import get_space
    from test_analysis import TINY, hand_table
    from runtime.data import DataSpec, build_dataset
    table = hand_table(tmp_path)
    argv = ["proxies", *TINY, "--sample", "3", "--proxies", "params", "--validators", "tse-ema,fear", "--seed", "2",
            "--val-epochs", "2", "--val-steps-per-epoch", "2", "--fear-threshold", "0.1", "--fear-window", "1",
            "--fear-stage2-steps", "1", "--benchmark-table", str(table),
            "--device", "cpu"]  # compared below with a CPU recomputation
    full, cut = tmp_path / "full", tmp_path / "cut"
    assert main([*argv, "--out", str(full)]) == 0
    res = json.loads((full / "result.json").read_text())
    assert set(res["spearman"]) == {"params", "tse-ema", "fear"} and res["seconds_per_arch"]["fear"] > 0
    with open(full / "scores.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    space = get_space("nb201")
    data = build_dataset(DataSpec("synthetic"), "train", augment=False, seed=2)
    ctx = ValidationContext(space, data, 10, NetConfig(channels=4, cells=1, num_classes=10), torch.device("cpu"),
                            seed=2, batch_size=4)
    s = dict(val_epochs=2, val_steps_per_epoch=2)
    v = build_validator("tse-ema", s)
    assert [float(r["tse-ema"]) for r in rows] == [v.score(ctx, r["arch"]).score for r in rows]
    assert main([*argv, "--out", str(cut)]) == 0
    lines = (cut / "progress.jsonl").read_text().splitlines(keepends=True)
    (cut / "progress.jsonl").write_text("".join(lines[:1]))
    for name in ("result.json", "scores.csv", "proxies.png"):
        (cut / name).unlink()
    assert main([*argv, "--out", str(cut), "--resume"]) == 0
    assert (cut / "scores.csv").read_text() == (full / "scores.csv").read_text()


def test_hog_puts_an_edge_into_its_orientation_bin():
    from search.validators.threshold import hog
    img = torch.zeros(1, 3, 8, 8)
    img[..., :, 4:] = 1.0  # a vertical edge: the gradient points along x, orientation 0
    h = hog(img, cell=8, bins=9)
    assert h.shape == (1, 9) and h[0, 0] == pytest.approx(1.0) and float(h[0, 1:].abs().sum()) == 0.0
    flat = torch.zeros(1, 3, 8, 8)
    flat[..., 4:, :] = 1.0  # a horizontal edge: orientation pi/2, bin floor(4.5) = 4
    assert int(hog(flat, cell=8, bins=9)[0].argmax()) == 4


def test_the_shallow_learner_threshold_separates_orientations():
    from search.validators.threshold import ThresholdSettings, derive_threshold
    g = torch.Generator().manual_seed(0)
    items = []
    for i in range(64):
        img = torch.zeros(3, 16, 16)
        k = int(torch.randint(2, 6, (1,), generator=g))
        if i % 2:
            img[:, :, ::k] = 1.0   # vertical stripes: class 1
        else:
            img[:, ::k, :] = 1.0   # horizontal stripes: class 0
        items.append((img, i % 2))
    res = derive_threshold(items, 2, seed=0, settings=ThresholdSettings(epochs=30, batch_size=16, lr=1e-2))
    assert res["threshold"] == 1.0 and res["features"] == 2 * 2 * 9 and res["images"] == 64


@pytest.mark.slow
def test_proposals_from_another_run_are_validated_anew(tmp_path):
    """--proposals-from: the finished proposals of a run, validated with another validator, equal a full run
    with that validator; other proposal settings are refused."""
    import json

    from runtime.rundir import RunFolderError
    from search.search_run import run_search
    base = dict(space="nb201", dataset="synthetic", channels=4, cells=1, val_channels=4, val_cells=1, batch_size=8,
                iterations=3, validation_batches=2, seed=5)
    run_search(search_config(**base), tmp_path / "proxy", progress=False)
    tse = dict(validator="tse-ema", val_epochs=2, val_steps_per_epoch=2)
    full = run_search(search_config(**base, **tse), tmp_path / "full", progress=False)
    reused = run_search(search_config(**base, **tse, proposals_from=str(tmp_path / "proxy")), tmp_path / "reused",
                        progress=False)
    assert reused["genotype"] == full["genotype"] and reused["validation_score"] == full["validation_score"]
    for name in ("decisions.jsonl", "candidates.json"):
        assert (tmp_path / "reused" / name).read_text() == (tmp_path / "full" / name).read_text()
    assert json.loads((tmp_path / "reused" / "proposals.json").read_text()) == \
        json.loads((tmp_path / "proxy" / "proposals.json").read_text())
    with pytest.raises(RunFolderError, match=r"proposal settings differ \(order\)"):
        run_search(search_config(**{**base, "order": "fixed"}, proposals_from=str(tmp_path / "proxy")),
                   tmp_path / "bad", progress=False)
    with pytest.raises(RunFolderError, match="not a search run directory"):
        run_search(search_config(**base, proposals_from=str(tmp_path / "nowhere")), tmp_path / "bad2", progress=False)


@pytest.mark.parametrize("argv, needle", [
    (["search", "--validator", "nope"], "unknown validator 'nope'"),
    (["search", "--validator", "fear", "--fear-freeze", "1.5"], "--fear-freeze"),
    (["search", "--validator", "tse", "--val-epochs", "0"], "val_epochs must be at least 1"),
    (["search", "--val-epochs", "2"], "--val-epochs (command line) is an option of validators 'tse', 'tse-e', "
                                      "'tse-ema', 'fear'; this run uses 'proxy'"),
    (["search", "--validator", "fear", "--val-repeats", "3"], "--val-repeats (command line) is an option of "
                                                              "validators 'tse', 'tse-e', 'tse-ema'"),
    (["search", "--val-train-cells", "1"], "--val-train-cells (command line) is an option of validators"),
    (["search", "--validator", "tse-ema", "--val-train-channels", "0"], "val_train_channels must be at least 1"),
    (["proxies", "--val-repeats", "2", "--benchmark-table", "TABLE"], "this run uses none"),
    (["proxies", "--val-train-channels", "2", "--benchmark-table", "TABLE"], "this run uses none"),
    (["search", "--validator", "vote", "--vote", "tse-ema"], "--vote needs two or more different validators"),
    (["proxies", "--validators", "tse-ema,nope", "--benchmark-table", "TABLE"], "unknown validator 'nope'"),
    (["proxies", "--validators", "proxy", "--benchmark-table", "TABLE"], "unknown validator 'proxy'"),
    (["fear-threshold", "--epochs", "0"], "--epochs must be at least 1"),
    (["search", "--proposals-from", "NOWHERE"], "not a search run directory"),
])
def test_validator_bad_inputs_are_one_line(argv, needle, tmp_path, capsys):
    from search.cli import main
    from test_analysis import hand_table
    argv = [str(hand_table(tmp_path)) if a == "TABLE" else str(tmp_path / "none") if a == "NOWHERE" else a
            for a in argv]
    tiny = ["--dataset", "synthetic", "--no-progress", "--out", str(tmp_path / "run")] if argv[0] != "fear-threshold" \
        else ["--dataset", "synthetic"]
    if argv[0] == "search":
        tiny += ["--channels", "4", "--cells", "1", "--val-channels", "4", "--val-cells", "1", "-N", "1", "-V", "1",
                 "--batch-size", "8"]
    if argv[0] == "proxies":
        tiny += ["--space", "nb201", "--channels", "4", "--cells", "1", "--batch-size", "4", "--sample", "2"]
    assert main([*argv, *tiny]) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and "Traceback" not in err and len(err.splitlines()) == 1


@pytest.mark.parametrize("name", ["tse", "tse-e", "tse-ema"])
def test_repeats_average_independent_trainings_and_keep_the_first(name):
    """R=3: the estimate is the mean of three single trainings, by hand from contexts of repeat 0, 1, 2; repeat 0
    is the R=1 run exactly, and the repeats differ (their own initialisation and minibatches)."""
    s1, s3 = settings(tse_e=2, tse_gamma=0.5), settings(tse_e=2, tse_gamma=0.5, val_repeats=3)
    singles = [build_validator(name, s1).score(context(repeat=r), GOOD) for r in range(3)]
    verdict = build_validator(name, s3).score(context(), GOOD)
    hand = [v.details["estimate"] for v in singles]
    assert len(set(hand)) == 3
    assert verdict.details["repeat_estimates"] == hand
    assert verdict.score == pytest.approx(-sum(hand) / 3, rel=1e-12)
    assert [r["loss"] for r in verdict.curve if r["repeat"] == 0] == [r["loss"] for r in singles[0].curve]
    assert [r["repeat"] for r in verdict.curve] == [0] * 12 + [1] * 12 + [2] * 12
    assert build_validator(name, s1).score(context(), GOOD).score == singles[0].score


@pytest.mark.parametrize("bad, needle", [
    ({"val_repeats": 0, "validator": "tse"}, "val_repeats must be at least 1, got 0"),
    ({"val_repeats": 2, "validator": "fear"}, r"--val-repeats \(settings\) is an option of validators 'tse', 'tse-e', "
                                              r"'tse-ema'; this run uses 'fear'"),
    ({"val_repeats": 2, "validator": "proxy"}, r"this run uses 'proxy'"),
    ({"val_train_channels": 4, "validator": "proxy"}, r"--val-train-channels \(settings\) is an option of validators "
                                                      r"'tse', 'tse-e', 'tse-ema', 'fear'; this run uses 'proxy'"),
    ({"validator": "vote", "vote": "proxy,proxy"}, "--vote needs two or more different")])
def test_repeats_only_where_they_mean_something(bad, needle):
    with pytest.raises(SettingsError, match=needle):
        search_config(**bad)


def test_vote_ranks_by_hand():
    """Ranks 1 = lowest, ties share their mean rank, NaN below -inf; the vote sums the members' ranks."""
    from search.validators.vote import rank_sums, ranks
    assert ranks([3.0, math.nan, 1.0, 3.0, -math.inf]) == [4.5, 1.0, 3.0, 4.5, 2.0]
    assert ranks([math.nan, math.nan, 0.0]) == [1.5, 1.5, 3.0]
    members = {"a": {"x": 0.1, "y": 0.3, "z": 0.2}, "b": {"x": 9.0, "y": -1.0, "z": 5.0}}
    assert rank_sums(members, ["x", "y", "z"]) == {"x": 1 + 3, "y": 3 + 1, "z": 2 + 2}


TRIO = ["signal-signal", "signal-noise", "noise-signal", "noise-noise"]


@pytest.mark.slow
def test_vote_equals_the_rank_sum_of_its_members_run_alone():
    """vote over tse and tse-ema through the validation stage = rank sums of the members' own stage scores,
    by hand; a vote resumed from a checkpoint of its first two candidates ends the same."""
    from search.validators import validate_candidates
    from search.validators.vote import ranks
    s = settings(validator="vote", vote="tse-ema,fear", fear_threshold=0.7, val_epochs=10)
    alone = {n: validate_candidates(build_validator(n, s), context(), TRIO) for n in ("tse-ema", "fear")}
    hand = {g: 0.0 for g in TRIO}
    for scores in alone.values():
        for g, r in zip(TRIO, ranks([scores[g] for g in TRIO])):
            hand[g] += r
    details: dict = {}
    voted = validate_candidates(build_validator("vote", s), context(), TRIO, details_out=details)
    assert voted == hand and len(set(hand.values())) > 1
    assert {g: d["members"] for g, d in details.items()} == {g: {n: alone[n][g] for n in alone} for g in TRIO}
    saved: list = []
    validate_candidates(build_validator("vote", s), context(), TRIO[:2],
                        sink=lambda sc, de: saved.append((sc, de)))
    assert saved[0][0] == {TRIO[0]: 2.0}  # alone among the candidates so far: rank 1 under each member
    done, done_details = saved[-1]
    resumed = validate_candidates(build_validator("vote", s), context(), TRIO, done, done_details)
    assert resumed == voted


@pytest.mark.slow
def test_vote_scored_independently_then_settled_equals_the_sequential_run():
    """With an order-dependent member (fear, its ratio rule), the spread-over-processes path equals the
    sequential run: each member settles its own scores, then the ranks are summed."""
    from search.validators import validate_candidates
    s = settings(validator="vote", vote="fear,tse", fear_threshold=0.7, val_epochs=10, fear_reject_ratio=1.0)
    free = build_validator("vote", s)
    assert free.order_dependent and not free.needs_proxy
    free.independent()
    alone: dict = {}
    scores = validate_candidates(free, context(), TRIO, details_out=alone)
    seq_details: dict = {}
    seq = validate_candidates(build_validator("vote", s), context(), TRIO, details_out=seq_details)
    settled = build_validator("vote", s).settle([(g, scores[g], alone[g]) for g in TRIO])
    assert {g: v[0] for g, v in settled.items()} == seq
    assert {g: v[1]["members"] for g, v in settled.items()} == {g: d["members"] for g, d in seq_details.items()}
    assert any(d["member_details"]["fear"]["rejected"] for d in seq_details.values())  # the rule mattered


def test_vote_ranks_the_planted_architectures():
    from scoring.proxies import get_proxy
    from search.validators import validate_candidates
    ctx = context(proxy=get_proxy("grad_norm"), batches=[(ToyData(16, seed=3).x, ToyData(16, seed=3).y)])
    v = build_validator("vote", settings(validator="vote", vote="proxy,tse-ema"))
    assert v.needs_proxy
    voted = validate_candidates(v, ctx, [BAD, GOOD])
    assert voted == {BAD: 2.0, GOOD: 4.0}


@pytest.mark.parametrize("bad, needle", [
    ({"vote": "tse-ema"}, "--vote needs two or more different validators, e.g. proxy,tse-ema; got 'tse-ema'"),
    ({"vote": "tse-ema,tse-ema"}, "--vote needs two or more different validators"),
    ({"vote": "proxy,nope"}, "--vote: 'nope' is not a validator to vote with; choose from proxy, tse, tse-e, tse-ema, fear"),
    ({"vote": "vote,tse"}, "--vote: 'vote' is not a validator to vote with"),
    ({"vote": "proxy,fear", "val_repeats": 2}, r"--val-repeats \(settings\) is an option of validators 'tse', 'tse-e', "
                                               r"'tse-ema'; this run uses 'vote', 'proxy', 'fear'")])
def test_bad_vote_settings_are_one_line(bad, needle):
    with pytest.raises(SettingsError, match=needle):
        search_config(validator="vote", **bad)
    assert search_config(validator="vote", vote="proxy,tse-ema", val_repeats=2).val_repeats == 2  # a tse member


@pytest.mark.slow
def test_a_search_with_the_vote_validator(tmp_path):
    """End to end: the candidates' scores are rank sums (two members: they add up to n(n+1)), each curve row
    names its member, and the winner has the top sum."""
    import json

    from search.search_run import run_search
    cfg = search_config(space="nb201", dataset="synthetic", channels=4, cells=1, val_channels=4, val_cells=1,
                       batch_size=8, iterations=4, validation_batches=2, seed=1, validator="vote",
                       vote="proxy,tse-ema", val_epochs=2, val_steps_per_epoch=2, val_repeats=2)
    result = run_search(cfg, tmp_path / "run", progress=False)
    cands = json.loads((tmp_path / "run" / "candidates.json").read_text())
    n, sums = len(cands), [c["validation_score"] for c in cands]
    assert sum(sums) == n * (n + 1) and result["validation_score"] == max(sums)
    assert (result["threads"], result["torch"]) == (torch.get_num_threads(), torch.__version__)  # rounding depends on them
    rows = [json.loads(line) for line in (tmp_path / "run" / "curves" / "0.jsonl").read_text().splitlines()]
    assert [(r["member"], r["repeat"]) for r in rows] == [("tse-ema", 0)] * 4 + [("tse-ema", 1)] * 4


def test_training_validators_train_the_network_of_val_train_size():
    """--val-train-channels/-cells resize only what tse*/fear train: tse-ema on a C=16 context with
    --val-train-channels 4 --val-train-cells 1 equals tse-ema on a C=4 / 1-cell context, and the proxy validator
    (or a vote's proxy member) still sums on the context's network."""
    from scoring.proxies import get_proxy
    from supernet.spaces import get_space
    from runtime.data import DataSpec, build_dataset
    space = get_space("nb201")
    data = build_dataset(DataSpec("synthetic"), "train", augment=False, seed=2)
    batches = [(torch.randn(4, 3, 32, 32, generator=torch.Generator().manual_seed(5)), torch.tensor([0, 1, 2, 3]))]

    def ctx(channels, cells):
        return ValidationContext(space, data, 10, NetConfig(channels=channels, cells=cells, num_classes=10),
                                 torch.device("cpu"), seed=2, batch_size=4, proxy=get_proxy("nwot"), batches=batches)
    arch = "|nor_conv_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|avg_pool_3x3~0|none~1|nor_conv_3x3~2|"
    small = dict(val_epochs=1, val_steps_per_epoch=2)
    resized = dict(val_epochs=1, val_steps_per_epoch=2, val_train_channels=4, val_train_cells=1)
    assert build_validator("tse-ema", resized).score(ctx(16, 2), arch).score == \
        build_validator("tse-ema", small).score(ctx(4, 1), arch).score
    assert build_validator("tse-ema", small).score(ctx(16, 2), arch).score != \
        build_validator("tse-ema", small).score(ctx(4, 1), arch).score  # the size matters
    vote = dict(vote="proxy,tse-ema", val_epochs=1, val_steps_per_epoch=2, val_train_channels=4, val_train_cells=1)
    members = build_validator("vote", vote).score(ctx(16, 2), arch).details["members"]
    assert members["proxy"] == build_validator("proxy", small).score(ctx(16, 2), arch).score
    assert members["tse-ema"] == build_validator("tse-ema", small).score(ctx(4, 1), arch).score


def test_proxies_take_training_settings_for_their_validators():
    """`opscore proxies --validators tse-ema --val-repeats 2` is valid (its validators, not --validator, count)."""
    from search.analysis.proxy_study import ProxyStudyConfig
    ProxyStudyConfig(validators="tse-ema", val_repeats=2, val_train_channels=4, benchmark_table="t.csv").validate()
    ProxyStudyConfig(validators="all", val_repeats=2, benchmark_table="t.csv").validate()
    with pytest.raises(SettingsError, match=r"--val-repeats is an option of validators 'tse', 'tse-e', 'tse-ema'; "
                                            r"this run uses 'fear'"):
        ProxyStudyConfig(validators="fear", val_repeats=2, benchmark_table="t.csv").validate()
