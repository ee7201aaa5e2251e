"""Every benchmark source on tiny files in its real format: CSV tables (several accuracy columns, bad
tables), NATS-Bench through a stand-in API on an archive folder in its own layout, the NAS-Bench-Macro
JSON (canonical keys), and NAS-Bench-301 through a stand-in surrogate, in process and as a subprocess."""
from __future__ import annotations

import json
import sys

import pytest

from search.benchmarks import (BenchmarkError, BenchmarkSet, BenchmarkSettings, CsvBenchmark, MacroBenchmark,
                               NatsBenchmark, NB301Benchmark, merge_lookup, open_benchmarks, open_table)
from supernet.spaces.darts_genotype import DARTS_V2, format_darts_genotype

ARCH = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"
OTHER = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"


# ------------------------------------------------------------------ CSV tables
def test_table_returns_every_accuracy_column_and_ignores_others(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("index,arch,cifar10_test_acc,params,cifar100_test_acc,imagenet16-120_valid_acc\n"
                 f"0,{ARCH},93.5,1.2,70.25,44.0\n1,{OTHER},10.0,0.1,1.0,0.8\n")
    t = CsvBenchmark(p)
    assert t.metrics == ("cifar10_test_acc", "cifar100_test_acc", "imagenet16-120_valid_acc")
    assert t.lookup(ARCH) == {"cifar10_test_acc": 93.5, "cifar100_test_acc": 70.25, "imagenet16-120_valid_acc": 44.0}


@pytest.mark.parametrize("content, needle", [
    ("index,arch,params\n0,x,1\n", "no accuracy column"),
    ("arch\nx\n", "no accuracy column"),
    ("arch,cifar10_test_acc,cifar10_test_acc\nx,1,2\n", "column 'cifar10_test_acc' more than once"),
    (f"arch,cifar10_test_acc\n{ARCH},1\n{OTHER},2\n{ARCH},3\n", "twice (lines 2 and 4)"),
    ("arch,cifar10_test_acc\nx\n", "line 2 has 1 fields"),
])
def test_bad_tables_are_one_line_errors(tmp_path, content, needle):
    p = tmp_path / "t.csv"
    p.write_text(content)
    with pytest.raises(BenchmarkError) as e:
        CsvBenchmark(p)
    assert needle in str(e.value) and "\n" not in str(e.value)


# ------------------------------------------------------------------ NATS-Bench through a stand-in API
class StandInNatsAPI:
    """The methods of nats_bench's topology API that the adapter uses; it records every query."""

    def __init__(self, archs: list[str], fail_for: int | None = None) -> None:
        self.archs, self.fail_for, self.calls = archs, fail_for, []

    def query_index_by_arch(self, arch: str) -> int:
        return self.archs.index(arch) if arch in self.archs else -1

    def get_more_info(self, index: int, dataset: str, iepoch=None, hp: str = "12", is_random: bool = True) -> dict:
        self.calls.append((index, dataset, hp, is_random))
        if index == self.fail_for:
            raise AssertionError(f"can not find the {index:06d}.pickle.pbz2 file")
        base = {"cifar10-valid": 90.0, "cifar10": 93.0, "cifar100": 70.0, "ImageNet16-120": 40.0}[dataset] + index
        info = {"train-accuracy": 99.0, "test-accuracy": base + 0.5}
        if dataset != "cifar10":  # the full-training-set CIFAR-10 run has no validation split
            info["valid-accuracy"] = base + 0.25
        return info


def nats_folder(tmp_path):
    """An archive folder in the fast-mode layout (meta file plus one file per architecture)."""
    d = tmp_path / "NATS-tss-v1_0-3ffb9-simple"
    d.mkdir()
    (d / "meta.pickle.pbz2").write_bytes(b"BZh9")
    (d / "000000.pickle.pbz2").write_bytes(b"BZh9")
    return d


def test_nats_every_dataset_and_split_at_200_epochs_mean_over_seeds(tmp_path):
    api = StandInNatsAPI([OTHER, ARCH])
    bench = NatsBenchmark(nats_folder(tmp_path), create_api=lambda path: api)
    assert bench.lookup(ARCH) == {"cifar10_valid_acc": 91.25, "cifar10_test_acc": 94.5, "cifar100_valid_acc": 71.25,
                                  "cifar100_test_acc": 71.5, "imagenet16-120_valid_acc": 41.25,
                                  "imagenet16-120_test_acc": 41.5}
    assert {(hp, rnd) for _, _, hp, rnd in api.calls} == {("200", False)}  # never 12 epochs, never one seed
    assert set(bench.metrics) == set(bench.lookup(ARCH))


def test_nats_missing_arch_and_missing_results_are_one_line(tmp_path):
    bench = NatsBenchmark(nats_folder(tmp_path), create_api=lambda path: StandInNatsAPI([OTHER, ARCH], fail_for=1))
    with pytest.raises(BenchmarkError, match="is not in NATS-Bench"):
        bench.lookup("|skip_connect~0|+|none~0|none~1|+|none~0|none~1|none~2|")
    with pytest.raises(BenchmarkError, match="has no 200-epoch cifar10-valid results .* AssertionError"):
        bench.lookup(ARCH)


def test_nats_paths_checked_before_the_api(tmp_path):
    folder = nats_folder(tmp_path)
    with pytest.raises(BenchmarkError, match="is a file; --nats-bench takes the extracted"):
        NatsBenchmark(folder / "000000.pickle.pbz2", create_api=lambda p: pytest.fail("opened"))
    with pytest.raises(BenchmarkError, match="does not exist"):
        NatsBenchmark(tmp_path / "nope", create_api=lambda p: pytest.fail("opened"))
    with pytest.raises(BenchmarkError, match="has no meta.pickle.pbz2"):
        NatsBenchmark(tmp_path, create_api=lambda p: pytest.fail("opened"))


def test_nats_without_the_package_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "nats_bench", None)  # an import of it fails
    with pytest.raises(BenchmarkError, match=r"pip install 'opscore\[bench\]'"):
        NatsBenchmark(nats_folder(tmp_path))


EVAL_SETS = {"cifar10-valid": ("x-valid", "ori-test"), "cifar10": ("ori-test",),
             "cifar100": ("x-valid", "x-test", "ori-test"), "ImageNet16-120": ("x-valid", "x-test", "ori-test")}
SEEDS = (777, 888)


def planted(index: int, dataset: str, setname: str, seed: int, epochs: int) -> float:
    """The accuracy written into the archive: differs per arch, dataset, split, seed and schedule."""
    base = {"cifar10-valid": 80.0, "cifar10": 90.0, "cifar100": 60.0, "ImageNet16-120": 30.0}[dataset]
    return base + index + {"x-valid": 0.1, "x-test": 0.2, "ori-test": 0.3}[setname] + (seed == 888) * 2.0 \
        - (epochs == 12) * 20.0


def write_nats_archive(root, archs: list[str], missing: tuple[int, ...] = ()):
    """A fast-mode NATS-Bench topology archive written with the package's own classes: meta.pickle.pbz2 and
    one NNNNNN.pickle.pbz2 per architecture holding the 12- and 200-epoch results of two seeds."""
    from nats_bench.api_utils import ArchResults, ResultsCount, pickle_save

    root.mkdir()
    pickle_save({"meta_archs": archs, "arch2infos": {}, "evaluated_indexes": []}, str(root / "meta.pickle"))
    for i, arch in enumerate(archs):
        if i in missing:
            continue
        by_hp = {}
        for epochs in (12, 200):
            res = ArchResults(i, arch)
            for dataset, sets in EVAL_SETS.items():
                for seed in SEEDS:
                    rc = ResultsCount(dataset, None, {e: 50.0 for e in range(epochs)}, {e: 1.0 for e in range(epochs)},
                                      1.0, 10.0, {}, seed, epochs, None)
                    accs = {f"{s}@{e}": planted(i, dataset, s, seed, epochs) for s in sets for e in range(epochs)}
                    rc.update_eval(accs, {k: 0.5 for k in accs}, {k: 0.1 for k in accs})
                    res.update(dataset, seed, rc)
            by_hp[str(epochs)] = res.state_dict()
        pickle_save(by_hp, str(root / f"{i:06d}.pickle"))
    return root


def test_nats_real_package_on_an_archive_in_its_own_layout(tmp_path):
    pytest.importorskip("nats_bench")
    folder = write_nats_archive(tmp_path / "NATS-tss-v1_0-3ffb9-simple", [OTHER, ARCH], missing=(0,))
    bench = NatsBenchmark(folder)

    def mean(dataset, setname):  # the mean over both seeds of the 200-epoch schedule
        return sum(planted(1, dataset, setname, s, 200) for s in SEEDS) / len(SEEDS)
    got = bench.lookup(ARCH)
    assert got == pytest.approx({"cifar10_valid_acc": mean("cifar10-valid", "x-valid"),
                                 "cifar10_test_acc": mean("cifar10", "ori-test"),
                                 "cifar100_valid_acc": mean("cifar100", "x-valid"),
                                 "cifar100_test_acc": mean("cifar100", "x-test"),
                                 "imagenet16-120_valid_acc": mean("ImageNet16-120", "x-valid"),
                                 "imagenet16-120_test_acc": mean("ImageNet16-120", "x-test")})
    with pytest.raises(BenchmarkError, match="has no 200-epoch cifar10-valid results") as e:
        bench.lookup(OTHER)  # its file is missing from the archive: the API asserts
    assert "\n" not in str(e.value)
    with pytest.raises(BenchmarkError, match="is not in NATS-Bench"):
        bench.lookup("|skip_connect~0|+|none~0|none~1|+|none~0|none~1|none~2|")
    with pytest.raises(BenchmarkError, match="is a file"):
        NatsBenchmark(folder / "000001.pickle.pbz2")


# ------------------------------------------------------------------ NAS-Bench-Macro JSON
def macro_json(tmp_path):
    p = tmp_path / "nas-bench-macro_cifar10.json"
    p.write_text(json.dumps({
        "20120122": {"test_acc": [92.0, 93.0, 94.0], "mean_acc": 93.0, "std": 0.8165, "params": 1.1e6, "flops": 9e7},
        "22222222": {"test_acc": [90.0, 91.0, 95.0], "std": 2.16, "params": 3.0e6, "flops": 2e8},
    }))
    return p


def test_macro_looks_up_the_canonical_key(tmp_path):
    bench = open_table(macro_json(tmp_path))
    assert isinstance(bench, MacroBenchmark) and bench.metrics == ("cifar10_test_acc",)
    # stage 2 "102" moves its stride-1 identity to the stage end: 20|102|122 -> 20|120|122
    assert bench.lookup("20102122") == {"cifar10_test_acc": 93.0}
    assert bench.lookup("20120122") == {"cifar10_test_acc": 93.0}
    assert bench.lookup("22222222") == {"cifar10_test_acc": pytest.approx(92.0)}  # mean of test_acc
    with pytest.raises(BenchmarkError, match=r"arch 11111111 \(canonical 11111111\) is not in"):
        bench.lookup("11111111")
    with pytest.raises(BenchmarkError, match="8-digit"):
        bench.lookup(ARCH)


@pytest.mark.parametrize("content, needle", [("[1, 2]", "non-empty mapping"), ("{bad", "is not JSON")])
def test_macro_bad_files(tmp_path, content, needle):
    p = tmp_path / "m.json"
    p.write_text(content)
    with pytest.raises(BenchmarkError, match=needle):
        open_table(p)


# ------------------------------------------------------------------ NAS-Bench-301 surrogate
class StandInSurrogate:
    """nasbench301's ensemble as the adapter uses it: predict(config=Genotype, representation, with_noise)."""

    def __init__(self) -> None:
        self.calls = []

    def predict(self, config, representation, with_noise):
        self.calls.append((config, representation, with_noise))
        return 90.0 + sum(op == "sep_conv_3x3" for op, _ in config.normal) / 10


def test_nb301_converts_the_genotype_and_calls_the_surrogate(tmp_path):
    sur = StandInSurrogate()
    bench = NB301Benchmark(tmp_path, noise=False, surrogate=sur)
    assert bench.lookup(format_darts_genotype(DARTS_V2)) == {"cifar10_valid_acc": pytest.approx(90.5)}  # 5 sep_conv_3x3 in the normal cell
    (config, representation, noise), = sur.calls
    assert type(config).__name__ == "Genotype" and config._fields == ("normal", "normal_concat", "reduce",
                                                                      "reduce_concat")
    assert config.normal[0] == ("sep_conv_3x3", 0) and config.reduce[0] == ("max_pool_3x3", 0)
    assert list(config.normal_concat) == [2, 3, 4, 5] and representation == "genotype" and noise is False
    NB301Benchmark(tmp_path, noise=True, surrogate=sur).lookup(format_darts_genotype(DARTS_V2))
    assert sur.calls[-1][2] is True


def test_nb301_refuses_ops_outside_its_space(tmp_path):
    text = format_darts_genotype(DARTS_V2).replace("('max_pool_3x3', 0)", "('none', 0)", 1)
    with pytest.raises(BenchmarkError, match="op 'none' of the reduce cell is not in NAS-Bench-301"):
        NB301Benchmark(tmp_path, surrogate=StandInSurrogate()).lookup(text)


STUB = '''__version__ = "{version}"
{body}
'''
ENSEMBLE = '''
class _Ensemble:
    def predict(self, config, representation, with_noise):
        assert representation == "genotype" and type(config).__name__ == "Genotype"
        return 91.5 + (1.0 if with_noise else 0.0) + len(config.normal) / 100

def load_ensemble(path):
    return _Ensemble()
'''


def stub_package(tmp_path, monkeypatch, body: str = ENSEMBLE, version: str = "0.2"):
    """A stand-in `nasbench301` package seen only by the worker's python (through PYTHONPATH)."""
    pkg = tmp_path / "stub" / "nasbench301"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text(STUB.format(version=version, body=body))
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "stub"))
    models = tmp_path / "xgb_v1.0"
    models.mkdir()
    (models / "surrogate_model.model").write_text("stand-in")
    return models


def test_nb301_in_its_own_environment_through_the_worker(tmp_path, monkeypatch):
    models = stub_package(tmp_path, monkeypatch)
    bench = NB301Benchmark(models, noise=True, python=sys.executable)
    assert bench.lookup(format_darts_genotype(DARTS_V2)) == {"cifar10_valid_acc": pytest.approx(92.58)}
    assert "with_noise=True" in bench.source


@pytest.mark.parametrize("case, needle", [
    ("no package", "nasbench301 is not installed in"),
    ("old version", "nasbench301 0.1 has no load_ensemble"),
    ("no models", "does not exist"),
    ("empty models", "is missing or empty"),
    ("no python", "--nb301-python"),
])
def test_nb301_failures_are_one_line(tmp_path, monkeypatch, case, needle):
    models = stub_package(tmp_path, monkeypatch, body="" if case == "old version" else ENSEMBLE,
                          version="0.1" if case == "old version" else "0.2")
    python = sys.executable
    if case == "no package":
        monkeypatch.setenv("PYTHONPATH", str(tmp_path / "elsewhere"))
    elif case == "no models":
        models = tmp_path / "nope"
    elif case == "empty models":
        models = tmp_path / "empty"
        models.mkdir()
    elif case == "no python":
        python = str(tmp_path / "venv" / "bin" / "python")
    with pytest.raises(BenchmarkError) as e:
        NB301Benchmark(models, python=python)
    assert needle in str(e.value) and "\n" not in str(e.value)


# ------------------------------------------------------------------ the factory and the lookup record
def test_factory_checks_space_and_metrics(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text(f"arch,cifar10_test_acc,cifar100_test_acc\n{ARCH},93.0,70.0\n")
    s = open_benchmarks(BenchmarkSettings(benchmark_table=str(p), benchmark_metric="cifar100_test_acc"), "nb201")
    assert s.result_entries(ARCH)["benchmark"] == {"cifar100_test_acc": 70.0}
    with pytest.raises(BenchmarkError, match="--benchmark-metric cifar10_valid_acc is not offered"):
        open_benchmarks(BenchmarkSettings(benchmark_table=str(p), benchmark_metric="cifar10_valid_acc"), "nb201")
    with pytest.raises(BenchmarkError, match="holds nb-macro architectures, not nb201"):
        open_benchmarks(BenchmarkSettings(benchmark_table=str(macro_json(tmp_path))), "nb201")
    assert open_benchmarks(BenchmarkSettings(), "nb201") is None


def test_failed_lookup_is_recorded_and_the_latest_lookup_decides_the_errors(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text(f"arch,cifar10_test_acc\n{OTHER},10.0\n")
    table = CsvBenchmark(p)
    failed = BenchmarkSet([table]).result_entries(ARCH)
    assert failed["benchmark"] == {} and "is not in benchmark table" in failed["benchmark_errors"][table.source]
    result = merge_lookup({"genotype": ARCH}, failed)
    p2 = tmp_path / "t2.csv"
    p2.write_text(f"arch,cifar10_test_acc\n{ARCH},93.0\n")
    later = merge_lookup(result, BenchmarkSet([CsvBenchmark(p2)]).result_entries(ARCH))
    assert later["benchmark"] == {"cifar10_test_acc": 93.0} and "benchmark_errors" not in later
    again = merge_lookup(later, failed)  # a later failure keeps the values found before
    assert again["benchmark"] == {"cifar10_test_acc": 93.0} and again["benchmark_errors"] == failed["benchmark_errors"]
