import pytest

from search.benchmarks import BenchmarkError, CsvBenchmark

ARCH = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"


def write_table(path, rows):
    path.write_text("index,arch,cifar10_test_acc\n" + "".join(f"{i},{a},{v}\n" for i, (a, v) in enumerate(rows)))
    return path


def test_lookup_by_arch(tmp_path):
    t = CsvBenchmark(write_table(tmp_path / "t.csv", [(ARCH, "93.6600"), ("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|", "10.0")]))
    assert t.lookup(ARCH) == {"cifar10_test_acc": 93.66}
    assert len(t) == 2
    with pytest.raises(BenchmarkError, match="not in benchmark table"):
        t.lookup("|skip_connect~0|+|none~0|none~1|+|none~0|none~1|none~2|")


@pytest.mark.parametrize("content", ["a,b\n1,2\n", "index,arch,acc\n0,x,notanumber\n", "index,arch,acc\n"])
def test_bad_tables_rejected(tmp_path, content):
    p = tmp_path / "t.csv"
    p.write_text(content)
    with pytest.raises(BenchmarkError):
        CsvBenchmark(p)


def test_missing_table(tmp_path):
    with pytest.raises(BenchmarkError, match="cannot read"):
        CsvBenchmark(tmp_path / "nope.csv")


def test_shared_table_has_every_arch(shared_data_dir):
    t = CsvBenchmark(shared_data_dir / "nb201" / "nb201_cifar10_test_acc.csv")
    assert len(t) == 15625
    assert t.lookup(ARCH)["cifar10_test_acc"] == pytest.approx(93.66)
