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


@pytest.mark.parametrize("content, problem, fix", [
    ("a,b\n1,2\n", "has no 'arch' column (columns: a, b)", "name the architecture column arch"),
    ("index,arch,acc\n0,x,93.1\n1,y, notanumber\n", "line 3: acc is 'notanumber', not a number",
     "fix the row or delete it"),
    ("index,arch,acc\n", "has no rows", "one row per arch"),
    ("arch,acc,train_acc\nx,93.1\n", "line 2 has 2 fields, fewer than the header", "complete the row or delete it"),
    ("arch,acc\nx,1\nx,2\n", "lists arch x twice (lines 2 and 3)", "keep one row per arch"),
    ("arch,size\nx,1\n", "has no accuracy column (columns: arch, size)", "name one e.g. cifar10_test_acc"),
])
def test_bad_tables_rejected_in_one_line_naming_the_problem_and_the_fix(tmp_path, content, problem, fix):
    p = tmp_path / "t.csv"
    p.write_text(content)
    with pytest.raises(BenchmarkError) as e:
        CsvBenchmark(p)
    msg = str(e.value)
    assert "\n" not in msg and problem in msg and msg.endswith(fix), msg


def test_missing_table(tmp_path):
    with pytest.raises(BenchmarkError, match="cannot read .*nope.csv: No such file or directory; check the path"):
        CsvBenchmark(tmp_path / "nope.csv")


def test_shared_table_has_every_arch(shared_data_dir):
    t = CsvBenchmark(shared_data_dir / "nb201" / "nb201_cifar10_test_acc.csv")
    assert len(t) == 15625
    assert t.lookup(ARCH)["cifar10_test_acc"] == pytest.approx(93.66)


def test_a_binary_file_is_not_a_csv_table(tmp_path):
    p = tmp_path / "t.csv"
    p.write_bytes(b"arch,acc\n\xff\xfe\x00\x81,1\n")
    with pytest.raises(BenchmarkError, match=r"t.csv is not a CSV file \(.*\); pass a CSV table with an arch column"):
        CsvBenchmark(p)
