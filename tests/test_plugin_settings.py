"""Plugin-owned settings: every registered plugin declares its options in its own module, each option once;
the core holds no plugin's option; old run folders and every shipped config still load; genotype formats are
recognised by the spaces themselves."""
import contextlib
import dataclasses
from pathlib import Path

import numpy as np
import pytest

from runtime.rundir import settings_differences
from runtime.settings import SettingsError, declaring_class, setting
from scoring.proxies import PROXIES
from scoring.proxies.params import Params
from search.orders import ORDERS, EdgeOrder
from search.config import SearchConfig
from search.plugins import (CORE, FAMILIES, load_search_config, options_table, search_config, search_schema,
                            settings_classes)
from supernet.registry import UnknownOptionError
from supernet.spaces import SPACES
from train_final.genotypes import detect_space

ROOT = Path(__file__).resolve().parents[1]
# the run core as issue 33 lists it: plugin names, data, seed, device, batch size, sizes, output folder
EXPECTED_CORE = {
    "strategy", "space", "scorer", "proxy", "order", "validator",                         # which plugins run
    "dataset", "data_root", "image_size", "download", "bad_images", "augment",            # the data
    "seed", "device", "channels_last", "batch_size", "bn_mode", "mixing",                # how scoring runs
    "channels", "cells", "val_channels", "val_cells", "out",                              # sizes, output
}


def _every_option_class() -> list[tuple[str, str, type]]:
    return [(family, name, cls) for family, registry, _ in FAMILIES
            for name, cls in settings_classes(registry).items()]


def test_the_core_is_the_run_core_and_no_plugin_option():
    assert set(CORE) == EXPECTED_CORE
    assert not set(CORE) & set(options_table())


def test_each_option_is_declared_once_in_its_plugins_module():
    """Listing every plugin's options: an option name is declared by one settings class (plugins that share it
    share the class), that class lives in the module of one of its plugins, and the table names them all."""
    declared: dict[str, type] = {}
    for family, name, cls in _every_option_class():
        for f in dataclasses.fields(cls):
            origin = declaring_class(cls, f.name)
            assert declared.setdefault(f.name, origin) is origin, f"{f.name} declared twice"
    table = options_table()
    assert set(table) == set(declared)
    for option in table.values():  # in the family's package (a plugin's module or the base its plugins share)
        registry = dict((fam, reg) for fam, reg, _ in FAMILIES)[option.family]
        packages = {registry.get(p).__module__.rsplit(".", 1)[0] for p in option.plugins}
        assert option.declared_by.__module__.rsplit(".", 1)[0] in packages, option
        assert option.declared_by.__module__ not in ("search.config", "search.plugins"), option
        assert option.field.metadata["help"], option.name
    # the families with options today (a new plugin's options join the table by being declared)
    owners = {name: table[name].owners() for name in ("population", "samples", "iterations", "tenas_ranks",
                                                       "tune_epochs", "tse_gamma", "vote", "include_none",
                                                       "nb301_models", "benchmark_metric")}
    assert owners == {"population": "strategy 'evolution'", "samples": "strategies 'evolution', 'naswot', 'random'",
                      "iterations": "strategy 'zcpt'", "tenas_ranks": "strategy 'tenas'",
                      "tune_epochs": "scorers 'darts-pt', 'disc-acc'", "tse_gamma": "validator 'tse-ema'",
                      "vote": "validator 'vote'", "include_none": "space 'darts'",
                      "nb301_models": "benchmark source 'nb301'",
                      "benchmark_metric": "benchmark sources 'table', 'nats-bench', 'nb301'"}


def test_a_plugin_is_built_with_its_options_and_refuses_others():
    from search.strategies import STRATEGIES
    evo = STRATEGIES.create("evolution", population=7, sample_size=2, samples=9)
    assert (evo.settings.population, evo.settings.sample_size, evo.settings.samples) == (7, 2, 9)
    with pytest.raises(UnknownOptionError, match="search strategy 'zcpt' has no option 'population'; its options: "
                                                 "iterations, validation_batches, proposals_from"):
        STRATEGIES.create("zcpt", population=3)
    with pytest.raises(SettingsError, match="evolution needs --sample-size <= --population <= --samples"):
        STRATEGIES.create("evolution", population=3, sample_size=5)


def test_options_of_plugins_in_use_are_resolved_with_their_defaults():
    cfg = search_config(strategy="evolution", proxy="nwot", population=30)
    assert cfg.options == {"samples": 100, "score_seed": 0, "score_cache": None, "population": 30, "sample_size": 5,
                           "benchmark_metric": "all", "benchmark_table": None, "nats_bench": None,
                           "nb301_models": None, "nb301_python": None, "nb301_noise": False}
    assert cfg.population == 30 and "iterations" not in cfg.to_dict()
    with pytest.raises(AttributeError):
        cfg.iterations  # noqa: B018  (an option of a plugin not in use reads as no setting)
    vote = search_config(validator="vote", vote="proxy,fear", fear_window=3)
    assert vote.fear_window == 3 and vote.val_epochs == 1 and "val_repeats" not in vote.options  # members' options


def test_a_yaml_file_may_hold_a_foreign_option_at_its_default_only(tmp_path):
    """A config.yaml of an earlier run holds every option of every plugin: at their defaults they change nothing."""
    p = tmp_path / "c.yaml"
    p.write_text("strategy: zcpt\npopulation: 20\ntse_gamma: 0.999\nscore_cache: null\n")
    assert "population" not in load_search_config(str(p), {}).options
    p.write_text("strategy: zcpt\npopulation: 21\n")
    with pytest.raises(SettingsError, match=r"--population \(config file .*\) is an option of strategy 'evolution'; "
                                            r"this run uses 'zcpt': drop it, or pass --strategy evolution"):
        load_search_config(str(p), {})
    with pytest.raises(SettingsError, match="unknown setting"):
        load_search_config(None, {"populaton": 3})


def test_an_old_flat_run_folder_compares_equal_and_a_changed_option_does_not():
    """Run folders written before the options moved hold every option; they resume with the same settings."""
    cfg = search_config(iterations=3)
    schema = search_schema()
    old_layout = {**schema.defaults, **cfg.to_dict()}  # every plugin's options at their defaults, as before
    assert settings_differences(cfg.to_dict(), old_layout, ("out",), schema) == []
    assert settings_differences(cfg.to_dict(), {**old_layout, "population": 21}, ("out",), schema) == ["population"]
    assert settings_differences(cfg.to_dict(), {**old_layout, "iterations": 4}, ("out",), schema) == ["iterations"]


@pytest.mark.parametrize("path", sorted((ROOT / "configs").glob("*search*.yaml")) +
                         sorted((ROOT / "configs").glob("zcpt-*.yaml")), ids=lambda p: p.name)
def test_every_search_config_loads(path):
    cfg = load_search_config(str(path), {})
    assert isinstance(cfg, SearchConfig) and cfg.options


@pytest.mark.parametrize("space", SPACES.names())
def test_every_space_recognises_its_own_genotype_text(space):
    """Detection asks each registered space; a DARTS subspace's genotypes are DARTS genotypes."""
    sp = SPACES.create(space)
    text = sp.format_genotype(sp.sample(np.random.default_rng(0)))
    expected = "darts" if space.startswith("darts") else space
    assert detect_space(text) == expected
    claimed = [n for n in SPACES.names() if SPACES.get(n).claims_text(text)]
    assert claimed[0] == expected


def test_the_command_reference_is_generated_and_current():
    """docs/commands.md is what `python -m search.cli.reference --write` writes from the settings classes; a
    setting, option or help text changed without regenerating it fails here."""
    from search.cli.reference import REFERENCE, command_reference
    text = command_reference()
    assert REFERENCE.read_text(encoding="utf-8") == text, "run: python -m search.cli.reference --write"
    for flag in ("--population", "--tse-gamma", "--include-none", "--nb301-models", "--iterations"):
        assert f"`{flag} " in text or f"`{flag}`" in text, flag
    assert "**Options of strategy 'evolution'**" in text and "## `opscore train`" in text


@dataclasses.dataclass
class BackwardsSettings:
    """The toy order's option."""

    toy_backwards: bool = setting(False, "toy order: decide the edges from the output towards the input")


class BackwardsOrder(EdgeOrder):
    """Edges in the space's order, or reversed with --toy-backwards."""

    Settings = BackwardsSettings
    evaluations = staticmethod(sum)

    def run(self, ctl) -> None:
        edges = ctl.undecided()
        self.decide_in_turn(ctl, edges[::-1] if self.settings.toy_backwards else edges)


@dataclasses.dataclass
class ScaledSettings:
    """The toy proxy's option."""

    toy_scale: float = setting(1.0, "toy proxy: factor on the parameter count")


class ScaledParams(Params):
    """The parameter count times --toy-scale."""

    Settings = ScaledSettings

    def __init__(self, bn_mode: str = "batch", toy_scale: float = 1.0) -> None:
        super().__init__(bn_mode)
        self.toy_scale = toy_scale

    @contextlib.contextmanager
    def _session(self, model):
        with super()._session(model) as evaluate:
            yield lambda *args: self.toy_scale * evaluate(*args)


@pytest.mark.slow
def test_an_order_and_a_proxy_get_their_options_from_the_run(tmp_path, monkeypatch):
    """A toy order and a toy proxy, each with an option of its own, registered for this test: the search passes
    each its option (decisions.jsonl shows the order reversed; the validation scores are the parameter counts
    scaled), and the option of one not in use is refused."""
    import json

    from search.search_run import run_search
    monkeypatch.setitem(ORDERS._items, "toy-backwards", BackwardsOrder)
    monkeypatch.setattr(BackwardsOrder, "name", "toy-backwards", raising=False)
    monkeypatch.setitem(PROXIES._items, "toy-params", ScaledParams)
    monkeypatch.setattr(ScaledParams, "name", "toy-params", raising=False)
    tiny = dict(space="nb201", dataset="synthetic", channels=2, cells=1, val_channels=2, val_cells=1, batch_size=4,
                iterations=1, validation_batches=1, order="toy-backwards", proxy="toy-params")
    runs = {}
    for name, extra in (("plain", {}), ("options", {"toy_backwards": True, "toy_scale": 3.0})):
        runs[name] = run_search(search_config(**tiny, **extra), tmp_path / name, progress=False)
        rows = [json.loads(line) for line in (tmp_path / name / "decisions.jsonl").read_text().splitlines()]
        edges = [r["edge"] for r in rows]
        expected = list(SPACES.create("nb201").candidates())
        assert edges == (expected[::-1] if extra else expected)
    assert runs["options"]["validation_score"] == pytest.approx(3.0 * runs["plain"]["validation_score"])
    with pytest.raises(SettingsError, match="--toy-scale .* is an option of proxy 'toy-params'; this run uses 'nwot'"):
        search_config(toy_scale=2.0)


def test_an_options_key_in_a_yaml_file_is_unknown_not_ignored(tmp_path):
    """`options` is where a run holds its resolved plugin options, not a setting: a file that names it is told so."""
    p = tmp_path / "c.yaml"
    p.write_text("options:\n  population: 3\n")
    with pytest.raises(SettingsError, match=r"unknown setting\(s\) options \(config file"):
        load_search_config(str(p), {})
