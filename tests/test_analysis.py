"""The analyses: rank correlations under the NaN rule, benchmark oracles on a hand-written table,
seeded sampling, and the `opscore proxies` / `opscore analyze op-scoring` run directories."""
from __future__ import annotations

import csv
import json
import math

import pytest
import torch

from search.analysis.correlation import kendall, mean_defined, spearman
from search.analysis.op_scoring import edge_correlations, oracles
from search.analysis.proxy_study import sample_archs
from search.benchmarks import CsvBenchmark
from search.cli import main
from search.config import ConfigError
from supernet.spaces import get_space
from supernet.spaces.space import NetConfig
from supernet.spaces.nb201 import NB201_OPS, NB201Genotype


def write_table(path, rows):
    path.write_text("index,arch,cifar10_test_acc\n" + "".join(f"{i},{a},{acc}\n" for i, (a, acc) in enumerate(rows)))
    return path


def hand_table(tmp_path):
    """Five one-op architectures (acc 10..50 in op order) and one with 'none' first, conv3x3 elsewhere (60)."""
    rows = [(NB201Genotype((o,) * 6).arch_str(), 10.0 * (i + 1)) for i, o in enumerate(NB201_OPS)]
    rows.append((NB201Genotype(("none",) + ("nor_conv_3x3",) * 5).arch_str(), 60.0))
    return write_table(tmp_path / "t.csv", rows)


def test_correlations_omit_nan_and_rank_inf_as_extremes():
    assert spearman([1.0, math.inf, math.nan, 3.0], [1.0, 3.0, 100.0, 2.0]) == pytest.approx(1.0)
    assert kendall([-math.inf, 0.0, 5.0], [3.0, 2.0, 1.0]) == pytest.approx(-1.0)
    assert math.isnan(spearman([1.0, 1.0, 1.0], [1.0, 2.0, 3.0]))  # constant: undefined
    assert math.isnan(spearman([1.0, math.nan], [1.0, 2.0]))       # one pair left
    assert mean_defined([0.5, math.nan, 1.0]) == (0.75, 2)


def test_oracles_by_hand(tmp_path):
    o = oracles(get_space("nb201"), CsvBenchmark(hand_table(tmp_path)), "cifar10_test_acc")
    assert o["best-acc"]["1<-0"]["none"] == 60.0 and o["avg-acc"]["1<-0"]["none"] == 35.0
    assert o["best-acc"]["2<-0"]["nor_conv_3x3"] == 60.0 and o["avg-acc"]["2<-0"]["nor_conv_3x3"] == 50.0
    assert o["best-acc"]["1<-0"]["nor_conv_3x3"] == 40.0 and o["avg-acc"]["3<-2"]["skip_connect"] == 20.0


def test_oracles_need_every_op_on_every_edge(tmp_path):
    table = write_table(tmp_path / "t.csv", [(NB201Genotype(("none",) * 6).arch_str(), 1.0)])
    with pytest.raises(ConfigError, match="no architecture with"):
        oracles(get_space("nb201"), CsvBenchmark(table), "cifar10_test_acc")


def test_edge_correlations_by_hand():
    keep = {"e1": {"a": 1.0, "b": 2.0, "c": 3.0}, "e2": {"a": 0.0, "b": 0.0, "c": 0.0}}
    oracle = {"e1": {"a": 30.0, "b": 20.0, "c": 10.0}, "e2": {"a": 1.0, "b": 2.0, "c": 3.0}}
    rhos = edge_correlations(keep, oracle)
    assert rhos[0] == pytest.approx(-1.0) and math.isnan(rhos[1])


def test_sampling_is_seeded_without_replacement(tmp_path):
    bench = CsvBenchmark(hand_table(tmp_path))
    a = sample_archs(bench, 4, seed=3)
    assert a == sample_archs(bench, 4, seed=3) and len(set(a)) == 4 and set(a) <= set(bench.rows)
    with pytest.raises(ConfigError, match="exceeds"):
        sample_archs(bench, 7, seed=0)


TINY = ["--space", "nb201", "--dataset", "synthetic", "--channels", "4", "--cells", "1", "--batch-size", "4",
        "--no-progress"]


@pytest.mark.slow
def test_cli_proxies_run_dir(tmp_path, capsys):
    table = hand_table(tmp_path)
    out = tmp_path / "run"
    assert main(["proxies", *TINY, "--sample", "4", "--proxies", "params,synflow,tenas", "--seed", "1",
                 "--benchmark-table", str(table), "--out", str(out)]) == 0
    res = json.loads((out / "result.json").read_text())
    assert set(res["spearman"]) == set(res["kendall"]) == {"params", "synflow", "tenas", "tenas_ranks"}
    assert all(-1.0 <= v <= 1.0 for v in res["spearman"].values() if not math.isnan(v))
    with open(out / "scores.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["arch", "params", "synflow", "tenas", "tenas_ntk_cond", "tenas_regions", "tenas_ranks",
                             "cifar10_test_acc"]
    bench = CsvBenchmark(table)
    space = get_space("nb201")
    for r in rows:  # the accuracy is the table's and params counts the network built from the arch
        assert float(r["cifar10_test_acc"]) == bench.rows[r["arch"]]["cifar10_test_acc"]
        net = space.build_network(space.parse_genotype(r["arch"]), NetConfig(channels=4, cells=1, num_classes=10))
        assert float(r["params"]) == sum(p.numel() for p in net.parameters())
    assert (out / "proxies.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["run_dir"] == str(out)


@pytest.mark.slow
def test_cli_proxies_resume_equals_uninterrupted_run(tmp_path):
    table = hand_table(tmp_path)
    argv = ["proxies", *TINY, "--sample", "5", "--proxies", "nwot,synflow,tenas", "--seed", "2",
            "--benchmark-table", str(table)]
    full, cut = tmp_path / "full", tmp_path / "cut"
    assert main([*argv, "--out", str(full)]) == 0
    assert main([*argv, "--out", str(cut)]) == 0
    # kill the second run after two architectures, mid-way through writing the third line
    lines = (cut / "progress.jsonl").read_text().splitlines(keepends=True)
    assert len(lines) == 5
    (cut / "progress.jsonl").write_text("".join(lines[:2]) + lines[2][:17])
    for name in ("result.json", "scores.csv", "proxies.png"):
        (cut / name).unlink()
    assert main([*argv, "--out", str(cut)]) == 2                        # an unfinished run needs --resume
    assert main([*argv, "--seed", "3", "--out", str(cut), "--resume"]) == 2  # ... with the same settings
    assert main([*argv, "--out", str(cut), "--resume"]) == 0
    assert (cut / "scores.csv").read_text() == (full / "scores.csv").read_text()
    a, b = (json.loads((d / "result.json").read_text()) for d in (full, cut))
    assert a["spearman"] == b["spearman"] and a["kendall"] == b["kendall"]
    assert main([*argv, "--out", str(cut), "--resume"]) == 2            # a finished run is never redone


@pytest.mark.slow
def test_cli_op_scoring_run_dir(tmp_path):
    out = tmp_path / "run"
    assert main(["analyze", "op-scoring", *TINY, "--proxies", "params", "--seeds", "0",
                 "--benchmark-table", str(hand_table(tmp_path)), "--out", str(out)]) == 0
    res = json.loads((out / "result.json").read_text())
    names = {"zc-pt(params)", "disc-zc(params)", "darts-alpha"}
    assert set(res["best-acc"]) == set(res["avg-acc"]) == names
    # removing an op lowers params by the op's size, discretizing keeps only it: both order ops by size
    assert res["best-acc"]["zc-pt(params)"] == pytest.approx(res["best-acc"]["disc-zc(params)"])
    with open(out / "op_scores.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["scorer"] == "zc-pt(params)" and r["edge"] == "1<-0"]
    keep = {r["op"]: float(r["keep"]) for r in rows}
    assert keep["nor_conv_3x3"] > keep["nor_conv_1x1"] > keep["skip_connect"] == keep["none"] == keep["avg_pool_3x3"]
    assert (out / "op_scoring.png").exists() and (out / "op_scoring.csv").exists()
    assert main(["analyze", "op-scoring", *TINY, "--proxies", "params", "--seeds", "0",
                 "--benchmark-table", str(hand_table(tmp_path)), "--out", str(out)]) == 2  # never overwritten


@pytest.mark.parametrize("argv, needle", [
    (["proxies", "--proxies", "nope"], "unknown proxy 'nope'"),
    (["proxies", "--sample", "1"], "--sample must be at least 2"),
    (["analyze", "op-scoring", "--seeds", "a,b"], "--seeds must be a comma list"),
    (["analyze", "op-scoring", "--scorers", "darts-pt"], "unknown proxy scorer 'darts-pt'"),
])
def test_cli_user_errors_one_line(tmp_path, capsys, argv, needle):
    table = hand_table(tmp_path)
    assert main([*argv, "--dataset", "synthetic", "--benchmark-table", str(table), "--out", str(tmp_path / "r")]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert len(err) == 1 and needle in err[0]
    assert not (tmp_path / "r" / "result.json").exists()


@pytest.mark.slow
def test_cli_op_scoring_with_a_trained_supernet(tmp_path):
    """--supernet adds the training-based scorers beside the zero-cost ones; darts-alpha(trained) scores
    are the softmax of the checkpoint's alphas, and none of them depends on the seed."""
    from search.supernet_train.checkpoint import read_supernet

    sn = tmp_path / "sn"
    assert main(["train-supernet", "--space", "nb201", "--dataset", "synthetic", "--channels", "4", "--cells", "1",
                 "--epochs", "1", "--batch-size", "32", "--eval-batches", "1", "--no-progress", "--out", str(sn)]) == 0
    out = tmp_path / "run"
    assert main(["analyze", "op-scoring", *TINY, "--proxies", "params", "--seeds", "0,1", "--supernet",
                 str(sn / "supernet.pt"), "--accuracy-batches", "1", "--benchmark-table", str(hand_table(tmp_path)),
                 "--out", str(out)]) == 0
    res = json.loads((out / "result.json").read_text())
    trained = {"darts-alpha(trained)", "darts-pt", "disc-acc"}
    assert trained | {"zc-pt(params)", "disc-zc(params)", "darts-alpha"} == set(res["best-acc"])
    for name in trained:
        per_seed = res["per_seed"]["best-acc"][name]
        assert per_seed["0"] == per_seed["1"] or all(math.isnan(v) for v in per_seed.values())
    alphas = read_supernet(str(sn / "supernet.pt"), "cpu")["alphas"]
    with open(out / "op_scores.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["scorer"] == "darts-alpha(trained)" and r["seed"] == "0"]
    for r in rows:
        edge_alpha = alphas[r["edge"]]
        expected = torch.softmax(edge_alpha.float(), 0)[NB201_OPS.index(r["op"])].item()
        assert float(r["raw"]) == pytest.approx(expected, rel=1e-5)
    assert len(rows) == 30
