"""A lookup never loses a finished search: the result is written first, a failed lookup is recorded
(exit status 3), the run resumes without the benchmark, and `opscore lookup` adds it later; NB201
searches report every dataset the table has."""
from __future__ import annotations

import itertools
import json
import subprocess
import sys

import pytest

from search.cli import main
from search.plugins import search_config
from search.search_run import run_search
from supernet.spaces.nb201 import NB201_OPS, NB201Genotype

TINY = ["--space", "nb201", "--dataset", "synthetic", "--channels", "4", "--cells", "1", "--val-channels", "4",
        "--val-cells", "1", "--batch-size", "8", "-N", "1", "-V", "1", "--no-progress"]
ALL_NONE = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"
COLUMNS = ("cifar10_test_acc", "cifar10_valid_acc", "cifar100_test_acc", "imagenet16-120_test_acc")


def expected(i: int) -> dict[str, float]:
    """The accuracies the full table gives row i (each column its own function of the row)."""
    return {"cifar10_test_acc": i / 1000, "cifar10_valid_acc": i / 2000, "cifar100_test_acc": i / 4000,
            "imagenet16-120_test_acc": i / 8000}


def full_table(tmp_path):
    """Every NB201 architecture with four accuracy columns; returns (path, arch -> row index)."""
    archs = [NB201Genotype(ops).arch_str() for ops in itertools.product(NB201_OPS, repeat=6)]
    lines = ["index,arch," + ",".join(COLUMNS)]
    lines += [f"{i},{a}," + ",".join(repr(v) for v in expected(i).values()) for i, a in enumerate(archs)]
    p = tmp_path / "full.csv"
    p.write_text("\n".join(lines) + "\n")
    return p, {a: i for i, a in enumerate(archs)}


def one_row_table(tmp_path):
    """A table that lacks the winner (all-none is never chosen: nwot scores it -inf)."""
    p = tmp_path / "one.csv"
    p.write_text(f"index,arch,cifar10_test_acc\n0,{ALL_NONE},10.0\n")
    return p


@pytest.mark.slow
def test_nb201_search_reports_every_dataset_of_the_table(tmp_path, capsys):
    table, index = full_table(tmp_path)
    assert main(["search", *TINY, "--benchmark-table", str(table), "--out", str(tmp_path / "r")]) == 0
    res = json.loads((tmp_path / "r" / "result.json").read_text())
    assert res["benchmark"] == expected(index[res["genotype"]])
    assert res["benchmark_sources"] == {c: f"csv table {table}" for c in COLUMNS} and "benchmark_errors" not in res
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["benchmark"] == res["benchmark"]
    assert main(["search", *TINY, "--benchmark-table", str(table), "--benchmark-metric",
                 "cifar100_test_acc,imagenet16-120_test_acc", "--out", str(tmp_path / "r2")]) == 0
    res2 = json.loads((tmp_path / "r2" / "result.json").read_text())
    assert set(res2["benchmark"]) == {"cifar100_test_acc", "imagenet16-120_test_acc"}


def candidate_genotypes(run) -> list[str]:
    return [c["genotype"] for c in json.loads((run / "candidates.json").read_text())]


@pytest.mark.slow
def test_a_search_records_the_best_of_its_candidates(tmp_path):
    table, index = full_table(tmp_path)
    run = tmp_path / "r"
    assert main(["search", *TINY[:-5], "-N", "4", "-V", "1", "--seed", "2", "--no-progress", "--benchmark-table", str(table),
                 "--out", str(run)]) == 0
    res = json.loads((run / "result.json").read_text())
    genotypes = candidate_genotypes(run)
    assert len(genotypes) == res["unique_candidates"] > 1  # several candidates, so the best is a choice
    # every column grows with the row index: the best candidate is the one of the highest index
    assert res["sample_oracle"] == expected(max(index[g] for g in genotypes))
    assert res["sample_oracle"]["cifar10_test_acc"] >= res["benchmark"]["cifar10_test_acc"]


def test_the_best_skips_what_no_benchmark_holds_or_a_lookup_that_crashes(tmp_path):
    from search.benchmarks import BenchmarkSet

    class Flaky:
        source, spaces, metrics = "flaky", None, ("acc", "other")

        def lookup(self, arch):
            if arch == "boom":
                raise RuntimeError("surrogate crashed")
            if arch == "missing":
                from search.benchmarks import BenchmarkError
                raise BenchmarkError("not held")
            return {"acc": float(len(arch)), "other": -float(len(arch))}

    bench = BenchmarkSet([Flaky()])
    assert bench.best(["ab", "boom", "abcd", "missing", "abc", "abcd"]) == {"acc": 4.0, "other": -4.0}
    assert bench.best(["boom", "missing"]) is None and bench.best([]) is None


@pytest.mark.slow
def test_missing_winner_keeps_the_search_then_lookup_adds_it(tmp_path):
    run = tmp_path / "r"
    proc = subprocess.run([sys.executable, "-m", "search", "search", *TINY, "--benchmark-table",
                           str(one_row_table(tmp_path)), "--out", str(run)], capture_output=True, text=True)
    assert proc.returncode == 3 and "Traceback" not in proc.stderr, proc.stderr
    failed = [line for line in proc.stderr.splitlines() if "benchmark lookup failed" in line and "opscore" in line]
    assert len(failed) == 1 and "is not in benchmark table" in failed[0]
    res = json.loads((run / "result.json").read_text())
    assert res["genotype"] != ALL_NONE and res["benchmark"] == {}
    (reason,) = res["benchmark_errors"].values()
    assert f"arch {res['genotype']} is not in benchmark table" in reason

    table, index = full_table(tmp_path)
    proc = subprocess.run([sys.executable, "-m", "search", "lookup", str(run), "--benchmark-table", str(table)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    after = json.loads((run / "result.json").read_text())
    assert after["benchmark"] == expected(index[res["genotype"]])
    assert res["sample_oracle"] is None  # the one-row table holds no candidate (all-none is never one)
    assert after["sample_oracle"] == expected(max(index[g] for g in candidate_genotypes(run)))
    assert "benchmark_errors" not in after  # the errors are the latest lookup's
    assert {k: after[k] for k in res if not k.startswith("benchmark") and k != "sample_oracle"} == \
        {k: res[k] for k in res if not k.startswith("benchmark") and k != "sample_oracle"}  # nothing else touched


@pytest.mark.slow
def test_resume_without_the_benchmark_is_allowed(tmp_path):
    cfg = dict(space="nb201", dataset="synthetic", channels=4, cells=1, val_channels=4, val_cells=1, batch_size=8,
               iterations=1, validation_batches=1, seed=3)
    first = run_search(search_config(**cfg, benchmark_table=str(one_row_table(tmp_path))).validate(), tmp_path / "r",
                       progress=False)
    assert "benchmark_errors" in first
    again = run_search(search_config(**cfg).validate(), tmp_path / "r", resume=True, progress=False)
    assert again["genotype"] == first["genotype"] and "benchmark" not in again


def test_lookup_user_errors(tmp_path, capsys):
    table, _ = full_table(tmp_path)
    assert main(["lookup", str(tmp_path / "nope"), "--benchmark-table", str(table)]) == 2
    assert "holds no finished run" in capsys.readouterr().err
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "result.json").write_text(json.dumps({"space": "nb201", "genotype": ALL_NONE}))
    assert main(["lookup", str(tmp_path / "r")]) == 2
    assert "needs --benchmark-table, --nats-bench or --nb301-models" in capsys.readouterr().err
    assert main(["lookup", str(tmp_path / "r"), "--nats-bench", str(table)]) == 2
    assert "is a file; --nats-bench takes the extracted" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.parametrize("make, needle", [
    (lambda d: ["--nats-bench", str(d / "x.pickle.pbz2")], "is a file; --nats-bench takes the extracted"),
    (lambda d: ["--nats-bench", str(d / "missing")], "does not exist"),
    (lambda d: ["--benchmark-table", str(d / "noacc.csv")], "has no accuracy column"),
    (lambda d: ["--benchmark-table", str(d / "dupcol.csv")], "more than once"),
    (lambda d: ["--benchmark-table", str(d / "duprow.csv")], "twice"),
    (lambda d: ["--nb301-models", str(d / "missing")], "NAS-Bench-301 (--nb301-models) holds darts, darts-s1"),
    (lambda d: ["--space", "nb-macro", "--nats-bench", str(d / "missing")], "holds nb201 architectures, not nb-macro"),
    (lambda d: ["--space", "darts", "--nb301-models", str(d / "missing")], "model folder"),
])
def test_bad_benchmark_inputs_one_line_exit_2(tmp_path, make, needle):
    (tmp_path / "x.pickle.pbz2").write_bytes(b"BZh9")
    (tmp_path / "noacc.csv").write_text(f"index,arch\n0,{ALL_NONE}\n")
    (tmp_path / "dupcol.csv").write_text(f"arch,cifar10_test_acc,cifar10_test_acc\n{ALL_NONE},1,2\n")
    (tmp_path / "duprow.csv").write_text(f"arch,cifar10_test_acc\n{ALL_NONE},1\n{ALL_NONE},2\n")
    proc = subprocess.run([sys.executable, "-m", "search", "search", *TINY, *make(tmp_path), "--out",
                           str(tmp_path / "r")], capture_output=True, text=True)
    assert proc.returncode == 2, proc.stderr
    err = [line for line in proc.stderr.splitlines() if "error" in line]
    assert len(err) == 1 and needle in err[0], proc.stderr
    assert "Traceback" not in proc.stderr


def macro_json(tmp_path, skip: str | None = None):
    """Every canonical NB-Macro architecture (but `skip`), mean_acc = its digits read as a number / 1e6."""
    from supernet.spaces.nb_macro import NBMacroGenotype

    keys = {str(NBMacroGenotype(c).canonical()) for c in itertools.product(range(3), repeat=8)}
    data = {k: {"test_acc": [int(k) / 1e6] * 3, "mean_acc": int(k) / 1e6, "std": 0.0, "params": 1.0, "flops": 1.0}
            for k in keys if k != skip}
    p = tmp_path / "nas-bench-macro_cifar10.json"
    p.write_text(json.dumps(data))
    return p


@pytest.mark.slow
def test_nb_macro_search_reads_the_json_and_a_missing_winner_exits_3(tmp_path):
    from supernet.spaces.nb_macro import parse_nb_macro

    argv = ["--space", "nb-macro", "--dataset", "synthetic", "--channels", "4", "--val-channels", "4", "--batch-size",
            "4", "-N", "1", "-V", "1", "--no-progress"]
    assert main(["search", *argv, "--benchmark-table", str(macro_json(tmp_path)), "--out", str(tmp_path / "r")]) == 0
    res = json.loads((tmp_path / "r" / "result.json").read_text())
    key = str(parse_nb_macro(res["genotype"]).canonical())
    assert res["benchmark"] == {"cifar10_test_acc": int(key) / 1e6}
    (tmp_path / "other").mkdir()
    assert main(["search", *argv, "--benchmark-table", str(macro_json(tmp_path / "other", skip=key)),
                 "--out", str(tmp_path / "r2")]) == 3
    res2 = json.loads((tmp_path / "r2" / "result.json").read_text())
    assert res2["genotype"] == res["genotype"] and res2["benchmark"] == {}
    assert f"(canonical {key}) is not in NAS-Bench-Macro" in next(iter(res2["benchmark_errors"].values()))


def test_lookup_adds_nb301_predictions_through_its_own_python(tmp_path, monkeypatch):
    """`opscore lookup --nb301-models DIR --nb301-python PY` on a finished DARTS run, with a stand-in
    nasbench301 package that only the worker's python sees."""
    from supernet.spaces.darts_genotype import DARTS_V2, format_darts_genotype

    stub = tmp_path / "stub" / "nasbench301"
    stub.mkdir(parents=True)
    (stub / "__init__.py").write_text(
        "__version__ = '0.3'\n"
        "class _E:\n"
        "    def predict(self, config, representation, with_noise):\n"
        "        return 93.0 + 0.1 * sum(op == 'skip_connect' for op, _ in config.reduce) + (0.5 if with_noise else 0)\n"
        "def load_ensemble(path):\n"
        "    return _E()\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "stub"))
    models = tmp_path / "xgb_v1.0"
    models.mkdir()
    (models / "model.json").write_text("{}")
    run = tmp_path / "r"
    run.mkdir()
    (run / "result.json").write_text(json.dumps({"space": "darts", "genotype": format_darts_genotype(DARTS_V2)}))
    assert main(["lookup", str(run), "--nb301-models", str(models), "--nb301-python", sys.executable]) == 0
    res = json.loads((run / "result.json").read_text())
    assert res["benchmark"] == {"cifar10_valid_acc": pytest.approx(93.3)}  # 3 skip_connect in DARTS_V2's reduce cell
    assert "with_noise=False" in res["benchmark_sources"]["cifar10_valid_acc"]


def test_lookup_of_a_damaged_result_says_how_to_write_it_again(tmp_path, capsys):
    table, _ = full_table(tmp_path)
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "result.json").write_text('{"space": "nb201", "geno')
    assert main(["lookup", str(tmp_path / "run"), "--benchmark-table", str(table)]) == 2
    err = capsys.readouterr().err.strip()
    assert "result.json is damaged" in err and err.endswith("delete it and resume the run (--resume) to write it again")
    assert len(err.splitlines()) == 1


@pytest.mark.parametrize("content, needle", [("{broken", "is damaged"),
                                             ('[{"x": 1}, 5]', "is not a list of candidates with a genotype each")])
def test_lookup_of_a_damaged_candidates_file_is_one_line_and_rewrites_nothing(tmp_path, capsys, content, needle):
    table, _ = full_table(tmp_path)
    runs = []
    for name in ("good", "bad"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "result.json").write_text(json.dumps({"space": "nb201", "genotype": ALL_NONE}))
        (tmp_path / name / "candidates.json").write_text(json.dumps([{"genotype": ALL_NONE}]))
        runs.append(tmp_path / name)
    (tmp_path / "bad" / "candidates.json").write_text(content)
    assert main(["lookup", *map(str, runs), "--benchmark-table", str(table)]) == 2
    err = capsys.readouterr().err
    assert needle in err and "candidates.json" in err and len(err.strip().splitlines()) == 1
    assert "delete it to look up the winner alone" in err and "--out" not in err  # lookup has no --out
    for r in runs:  # every folder is checked before any is rewritten
        assert json.loads((r / "result.json").read_text()) == {"space": "nb201", "genotype": ALL_NONE}
