"""Settings typed at the edge (runtime.settings): YAML and --set values checked against the field types,
one clear line for a wrong one, and every command's flags generated from its settings fields."""
from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass

import pytest

from runtime.settings import SettingsError, add_flags, coerce, flag_fields, flag_name, given, load_settings, setting
from search.analysis.op_scoring import OpScoringConfig
from search.analysis.proxy_study import ProxyStudyConfig
from search.cli import build_parser, main
from search.cli.describe_cmd import DescribeConfig
from search.config import SearchConfig
from search.plugins import all_search_settings, load_search_config, options_table
from search.supernet_train.config import SupernetTrainConfig
from train_final.recipe import Recipe

NB201 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|skip_connect~1|+|skip_connect~0|nor_conv_1x1~1|avg_pool_3x3~2|"


@dataclass
class Toy:
    """A settings class of every supported kind."""

    count: int = setting(3, "how many", short="-c")
    rate: float = setting(0.5, "how fast")
    flag: bool = setting(False, "on or off")
    name: str = setting("a", "a name", choices=("a", "b"))
    width: int | None = setting(None, "width (default: the space's)")
    tags: list[str] = setting([], "labels", flag=False)


# ------------------------------------------------------------------ coerce
@pytest.mark.parametrize("values, needle", [
    ({"count": "3"}, "count must be a whole number, got '3' (test); give a whole number such as 3, without quotes"),
    ({"count": 1.7}, "count must be a whole number, got 1.7"),
    ({"count": 64.0}, "write it as 64, without the decimal point"),
    ({"count": True}, "count must be a whole number, got True"),
    ({"count": None}, "count must not be empty, got null (test)"),
    ({"rate": "fast"}, "rate must be a number, got 'fast'"),
    ({"rate": False}, "rate must be a number, got False"),
    ({"flag": "no"}, "flag must be true or false, got 'no' (test)"),
    ({"flag": 1}, "flag must be true or false, got 1"),
    ({"name": 7}, "name must be text, got 7 (test); quote it"),
    ({"name": "c"}, "name must be one of a, b, got 'c'"),
    ({"width": "wide"}, "width must be a whole number"),
    ({"tags": "x"}, "tags must be a list"),
    ({"colour": 1, "size": 2}, "unknown setting(s) colour, size (test); check the spelling; known: count, flag, name"),
])
def test_coerce_rejects_wrong_kinds_in_one_line(values, needle):
    with pytest.raises(SettingsError) as e:
        coerce(Toy, values, "test")
    assert needle in str(e.value) and "\n" not in str(e.value)


def test_coerce_accepts_right_kinds():
    toy = coerce(Toy, {"count": 4, "rate": 2, "flag": True, "name": "b", "width": None, "tags": ["x"]}, "test")
    assert toy == Toy(count=4, rate=2.0, flag=True, name="b", width=None, tags=["x"])
    assert isinstance(toy.rate, float)
    assert coerce(Toy, {"rate": "3e-4"}, "test").rate == pytest.approx(3e-4)  # YAML 1.1 reads 3e-4 as text
    assert Toy().tags is not Toy().tags  # a mutable default is made afresh


def test_load_settings_layers_defaults_file_then_given_flags(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("iterations: 3\nbatch-size: 16\nscorer: darts-pt\ntune_epochs: 5\ntune_lr: 1\n")
    cfg = load_search_config(path, {"iterations": 7, "seed": None})
    assert (cfg.iterations, cfg.batch_size, cfg.seed, cfg.strategy) == (7, 16, 0, "zcpt")
    assert cfg.tune_epochs == 5.0 and isinstance(cfg.tune_epochs, float) and isinstance(cfg.tune_lr, float)
    with pytest.raises(SettingsError, match="iterations must be at least 1, got 0 \\(command line\\)"):
        load_search_config(path, {"iterations": 0})


def test_strategy_is_the_first_search_setting():
    first = flag_fields(SearchConfig)[0]
    assert (first.name, first.default, first.metadata["help"]) == ("strategy", "zcpt", "search strategy (opscore list)")
    assert not {f.name for f in flag_fields(SearchConfig)} & set(options_table())  # plugin options are the plugins'


# ------------------------------------------------------------------ flags
def test_add_flags_and_given():
    p = argparse.ArgumentParser()
    add_flags(p, Toy, skip=("rate",))
    assert vars(p.parse_args([])) == {"count": None, "flag": None, "name": None, "width": None}
    args = p.parse_args(["-c", "5", "--no-flag", "--name", "b"])
    assert given(args, Toy) == {"count": 5, "flag": False, "name": "b"}
    helps = {a.dest: a.help for a in p._actions}
    assert helps["count"] == "how many (default: 3)" and helps["flag"] == "on or off (default: off)"
    assert helps["width"] == "width (default: the space's)"
    with pytest.raises(SystemExit):
        p.parse_args(["--name", "c"])


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return action.choices


def _commands() -> list[tuple[str, argparse.ArgumentParser, type, set[str]]]:
    cmds = _subparsers(build_parser())
    return [("search", cmds["search"], all_search_settings(), {"config", "resume", "no_progress"}),
            ("train-supernet", cmds["train-supernet"], SupernetTrainConfig, {"config", "resume", "no_progress"}),
            ("proxies", cmds["proxies"], ProxyStudyConfig, {"resume", "no_progress"}),
            ("analyze op-scoring", _subparsers(cmds["analyze"])["op-scoring"], OpScoringConfig, {"no_progress"}),
            ("train", cmds["train"], Recipe, {"genotype", "recipe", "set", "out", "resume", "no_progress"}),
            ("describe", cmds["describe"], DescribeConfig, set())]


@pytest.mark.parametrize("name, parser, cls, other", _commands(), ids=[c[0] for c in _commands()])
def test_every_flag_is_one_setting_and_every_setting_one_flag(name, parser, cls, other):
    actions = [a for a in parser._actions if a.option_strings and a.dest != "help"]
    fields = {f.name: f for f in flag_fields(cls)}
    assert sorted(a.dest for a in actions if a.dest in fields) == sorted(fields)  # exactly one flag per field
    assert {a.dest for a in actions if a.dest not in fields} == other  # the rest are hand-written non-settings
    for a in actions:
        if a.dest in fields:
            f = fields[a.dest]
            negative = ["--no-" + flag_name(f.name)[2:]] if isinstance(a, argparse.BooleanOptionalAction) else []
            short = [f.metadata["short"]] if f.metadata["short"] else []
            assert sorted(a.option_strings) == sorted([flag_name(f.name), *negative, *short])
            assert a.default is None and a.help.endswith(")") and "(default: " in a.help


def test_existing_short_flags_and_choices():
    search = _subparsers(build_parser())["search"]
    opts = {s: a for a in search._actions for s in a.option_strings}
    assert opts["-N"].dest == "iterations" and opts["-V"].dest == "validation_batches"
    assert opts["--bn-mode"].choices == ("batch", "eval")
    assert opts["--no-channels-last"].dest == "channels_last"
    op = _subparsers(_subparsers(build_parser())["analyze"])["op-scoring"]
    assert op.parse_args(["--no-darts-alpha"]).darts_alpha is False


def test_search_help_shows_defaults():
    text = " ".join(_subparsers(build_parser())["search"].format_help().split())
    assert "-N ITERATIONS, --iterations ITERATIONS zcpt: proposal iterations N (default: 10)" in text
    assert "(default: zcpt)" in text


# ------------------------------------------------------------------ one line through the commands
@pytest.mark.parametrize("yaml_text, needle", [
    ('iterations: "three"\n', "iterations must be a whole number, got 'three'"),
    ("iterations: 1.7\n", "iterations must be a whole number, got 1.7"),
    ("batch_size: 64.0\n", "batch_size must be a whole number, got 64.0"),
    ('channels_last: "no"\n', "channels_last must be true or false, got 'no'"),
    ("seed: null\n", "seed must not be empty"),
    ("iteration: 3\n", "unknown setting(s) iteration"),
    ("tune_lr: fast\n", "tune_lr must be a number, got 'fast'"),
    ("- iterations\n", "must hold a mapping of settings"),
])
def test_bad_yaml_value_is_one_line_naming_setting_and_file(tmp_path, capsys, yaml_text, needle):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml_text)
    assert main(["search", "--config", str(cfg), "--dataset", "synthetic", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and needle in lines[0] and str(cfg) in lines[0], err
    assert lines[0].startswith("opscore search: error:") and "Traceback" not in err
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("item, needle", [
    ("epochs=ten", "epochs must be a whole number, got 'ten' (--set)"),
    ("nesterov=maybe", "nesterov must be true or false, got 'maybe' (--set)"),
    ("lr=fast", "lr must be a number, got 'fast' (--set)"),
    ("epochs=2.5", "epochs must be a whole number, got 2.5 (--set)"),
])
def test_bad_set_value_of_train_is_one_line(tmp_path, capsys, item, needle):
    assert main(["train", "--genotype", NB201, "--dataset", "synthetic", "--set", item, "--device", "cpu",
                 "--no-progress", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and needle in lines[0] and "Traceback" not in err, err


def test_bad_recipe_file_value_names_the_file(tmp_path, capsys):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("epochs: 10\nbatch_size: 96.0\n")
    assert main(["train", "--genotype", NB201, "--recipe", str(recipe), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip()
    assert "batch_size must be a whole number, got 96.0 (recipe file" in err and str(recipe) in err


def test_good_yaml_with_ints_for_floats_loads(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("lr: 1\nlr_min: 0\narch_lr: 3e-4\ntrain_portion: 0.5\n")
    got = load_settings(SupernetTrainConfig, cfg, {})
    assert (got.lr, got.lr_min, got.arch_lr) == (1.0, 0.0, pytest.approx(3e-4))
    assert all(isinstance(v, float) for v in (got.lr, got.lr_min, got.arch_lr))


def test_search_config_holds_every_benchmark_setting_alike():
    """opscore search and opscore lookup take the same benchmark flags, with the same defaults and help."""
    from search.benchmarks import BenchmarkSettings

    mine = {name: o.field for name, o in options_table().items()}
    for f in dataclasses.fields(BenchmarkSettings):
        assert (mine[f.name].default, mine[f.name].metadata["help"]) == (f.default, f.metadata["help"]), f.name
