"""The `opscore` command: a valid run directory, and one clear line for every user mistake."""
import json
import subprocess
import sys

import pytest

from search.cli import main

TINY = ["--space", "nb201", "--dataset", "synthetic", "--channels", "4", "--cells", "1", "--val-channels", "4",
        "--val-cells", "1", "--batch-size", "8", "-N", "1", "-V", "1", "--no-progress"]


@pytest.mark.slow
def test_cli_search_writes_run_dir(tmp_path, capsys):
    assert main(["search", *TINY, "--out", str(tmp_path / "r")]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["run_dir"] == str(tmp_path / "r")
    assert json.loads((tmp_path / "r" / "result.json").read_text())["genotype"] == summary["genotype"]


@pytest.mark.slow
def test_cli_with_config_file_and_table(tmp_path, capsys):
    from supernet.spaces.nb201 import NB201_OPS, NB201Genotype
    import itertools
    table = tmp_path / "t.csv"
    rows = [f"{i},{NB201Genotype(ops).arch_str()},{i / 100:.2f}" for i, ops in
            enumerate(itertools.product(NB201_OPS, repeat=6))]
    table.write_text("index,arch,cifar10_test_acc\n" + "\n".join(rows) + "\n")
    cfg = tmp_path / "c.yaml"
    cfg.write_text("space: nb201\norder: fixed\niterations: 1\n")
    assert main(["search", "--config", str(cfg), *TINY, "--benchmark-table", str(table), "--out", str(tmp_path / "r")]) == 0
    res = json.loads((tmp_path / "r" / "result.json").read_text())
    assert res["order"] == "fixed" and "cifar10_test_acc" in res["benchmark"]


@pytest.mark.slow
@pytest.mark.parametrize("extra, needle", [
    (["--space", "nope"], "unknown space 'nope'"),
    (["--proxy", "nope"], "unknown proxy 'nope'"),
    (["--order", "nope"], "unknown edge order 'nope'"),
    (["--scorer", "nope"], "unknown scorer 'nope'"),
    (["-N", "0"], "iterations must be at least 1, got 0"),
    (["-V", "0"], "validation_batches must be at least 1, got 0"),
    (["--dataset", "imagefolder", "--data-root", "/nonexistent/dir"], "does not exist"),
    (["--dataset", "cifar10", "--data-root", "/nonexistent/dir"], "does not exist"),
    (["--benchmark-table", "/nonexistent/t.csv"], "cannot read benchmark table"),
    (["--config", "/nonexistent/c.yaml"], "config file"),
])
def test_bad_input_one_line_no_traceback(tmp_path, extra, needle):
    proc = subprocess.run([sys.executable, "-m", "search", "search", *TINY, *extra, "--out", str(tmp_path / "r")],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    err = [l for l in proc.stderr.splitlines() if "error" in l]
    assert len(err) == 1 and needle in err[0], proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.slow
def test_unreadable_table(tmp_path):
    bad = tmp_path / "t.csv"
    bad.write_bytes(b"\xff\xfe\x00garbage")
    proc = subprocess.run([sys.executable, "-m", "search", "search", *TINY, "--benchmark-table", str(bad),
                           "--out", str(tmp_path / "r")], capture_output=True, text=True)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and "benchmark table" in proc.stderr


def test_list_shows_registries(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "nb201" in out and "nwot" in out and "zc-pt" in out and "random" in out
    lines = dict(line.split(": ", 1) for line in out.strip().splitlines())
    assert lines["supernet training methods"].split(", ") == ["darts", "darts-2nd", "drnas", "darts-tse", "drnas-tse"]
    assert "tse-ema" in lines["TSE estimators"] and "cifar10-darts" in lines["retraining recipes"]
