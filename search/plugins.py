"""The plugins of a search and their options: which registered families a search draws from, which plugin owns
each option, and flat settings (YAML keys, flags, Python keywords) resolved into the core `SearchConfig` plus
the options of the plugins in use.

Every registered strategy, space, scorer, proxy, order, validator and benchmark source may declare its options as
a `Settings` dataclass in its own module (fields made with `runtime.settings.setting`); plugins that share
options share the class that declares them (the sampling baselines' `SamplingSettings`, the training
validators' `TrainingSettings`), so each option is declared once. An option of a plugin the run does not use is
one line naming its owner, never silently ignored; a YAML file may still hold it at its default value (the
config.yaml of a run folder written before the options moved holds every option of every plugin).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from runtime.settings import (Schema, SettingsError, check_values, declaring_class, flag_name, merge_settings,
                              plugin_settings, read_yaml_settings)
from scoring.proxies import PROXIES
from scoring.scorers import SCORERS
from supernet.registry import Registry
from supernet.spaces import SPACES

from .benchmarks import BENCHMARKS
from .config import DEFAULT_PROXY, SearchConfig
from .orders import ORDERS
from .strategies import STRATEGIES
from .validators import VALIDATORS

# (family, its registry, the core setting that names the plugin in use; None: every registered one is in use)
FAMILIES: tuple[tuple[str, Registry[Any], str | None], ...] = (
    ("strategy", STRATEGIES, "strategy"), ("space", SPACES, "space"), ("scorer", SCORERS, "scorer"),
    ("proxy", PROXIES, "proxy"), ("order", ORDERS, "order"), ("validator", VALIDATORS, "validator"),
    ("benchmark source", BENCHMARKS, None),
)
CORE: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(SearchConfig) if f.name != "options")


@dataclass(frozen=True)
class Option:
    """One plugin option: its field, the settings class that declares it, and the plugins that take it."""

    name: str
    field: dataclasses.Field
    declared_by: type
    family: str
    plugins: tuple[str, ...]

    def owners(self) -> str:
        """The plugins that take it, in words: "strategy 'evolution'", "strategies 'naswot', 'random'"."""
        names = ", ".join(repr(p) for p in self.plugins)
        kind = self.family if len(self.plugins) == 1 else _plural(self.family)
        return f"{kind} {names}"


def _plural(family: str) -> str:
    return {"strategy": "strategies", "proxy": "proxies"}.get(family, family + "s")


def settings_classes(registry: Registry[Any]) -> dict[str, type]:
    """The settings class of every plugin of `registry` that declares one with fields."""
    found = {n: registry.settings(n) for n in registry.names()}
    return {n: c for n, c in found.items() if c is not None and dataclasses.fields(c)}


def options_table() -> dict[str, Option]:
    """Every option of every registered plugin of a search, by name. An option declared by two settings classes,
    or one that shadows a core setting, is a programming error (TypeError)."""
    table: dict[str, Option] = {}
    for family, registry, _ in FAMILIES:
        for plugin, cls in settings_classes(registry).items():
            for f in dataclasses.fields(cls):
                origin = declaring_class(cls, f.name)
                if f.name in CORE:
                    raise TypeError(f"option {f.name!r} of {family} {plugin!r} shadows the core setting")
                known = table.get(f.name)
                if known is None:
                    table[f.name] = Option(f.name, f, origin, family, (plugin,))
                elif known.declared_by is origin and known.family == family:
                    table[f.name] = dataclasses.replace(known, plugins=known.plugins + (plugin,))
                else:
                    raise TypeError(f"option {f.name!r} is declared twice: by {known.declared_by.__qualname__} "
                                    f"({known.owners()}) and by {origin.__qualname__} ({family} {plugin!r})")
    return table


def in_use(core: SearchConfig, options: Mapping[str, Any]) -> dict[str, list[str]]:
    """The plugins of each family a run with these settings uses (a vote: its members too; every benchmark
    source). An unknown name is the registry's one-line error."""
    used: dict[str, list[str]] = {}
    for family, registry, key in FAMILIES:
        if key is None:
            used[family] = registry.names()
            continue
        name = getattr(core, key)
        if family == "proxy":
            name = name or DEFAULT_PROXY
        plugin = registry.get(name)
        used[family] = plugin.in_use(options) if family == "validator" else [name]
    return used


def _unknown(values: Mapping[str, Any], table: Mapping[str, Option], source: str) -> None:
    """A SettingsError for keys that are neither core settings nor options of a registered plugin."""
    unknown = sorted(k for k in values if k not in CORE and k not in table)
    if unknown:
        raise SettingsError(f"unknown setting(s) {', '.join(unknown)} ({source}); check the spelling; known: "
                            f"{', '.join(sorted([*CORE, *table]))}")


def unused_option(option: Option, used: Sequence[str], source: str, fix: str) -> SettingsError:
    """The line for an option of a plugin the run does not use (`source`: where it was given, if said)."""
    where = f" ({source})" if source else ""
    current = ", ".join(repr(n) for n in used) or "none"
    return SettingsError(f"{flag_name(option.name)}{where} is an option of {option.owners()}; this run uses "
                         f"{current}: {fix}")


def _not_in_use(option: Option, used: Mapping[str, list[str]], source: str) -> SettingsError:
    """The line for an option of a search plugin this run does not use, naming the flag that selects one."""
    key = next(k for f, _, k in FAMILIES if f == option.family)
    return unused_option(option, used[option.family], source,
                         f"drop it, or pass --{key} {' or '.join(option.plugins)}")


def refuse_unused(values: Mapping[str, Any], family: str, used: Sequence[str], fix: str) -> None:
    """For a command that takes every option of a family (opscore proxies: the validators'): one line for an option
    set away from its default that none of the plugins `used` takes."""
    for name, option in options_table().items():
        if option.family == family and name in values and values[name] != _default(option.field) \
                and not set(option.plugins) & set(used):
            raise unused_option(option, used, "", fix)


def build_search_config(file_values: Mapping[str, Any] | None = None, given: Mapping[str, Any] | None = None,
                        file_source: str = "config file", given_source: str = "command line") -> SearchConfig:
    """The SearchConfig of flat settings: `file_values` (a YAML file's), then `given` (flags or keywords; None
    values are not given), each checked against its field. Options of plugins the run does not use are an error,
    except in the file at their default value."""
    file_values = dict(file_values or {})
    given = {k: v for k, v in (given or {}).items() if v is not None}
    table = options_table()
    _unknown(file_values, table, file_source)
    _unknown(given, table, given_source)
    core_values = check_values(SearchConfig, {k: v for k, v in file_values.items() if k in CORE}, file_source)
    core_values.update(check_values(SearchConfig, {k: v for k, v in given.items() if k in CORE}, given_source))
    core = SearchConfig(**core_values)
    raw = {**{k: v for k, v in file_values.items() if k not in CORE}, **{k: v for k, v in given.items() if k not in CORE}}
    used = in_use(core, raw)
    options: dict[str, Any] = {}
    for values, source, strict in ((file_values, file_source, False), (given, given_source, True)):
        for key, value in values.items():
            if key in CORE:
                continue
            option = table[key]
            checked = check_values(option.declared_by, {key: value}, source)[key]
            if any(p in used[option.family] for p in option.plugins):
                options[key] = checked
            elif strict or checked != _default(option.field):
                raise _not_in_use(option, used, source)
    resolved: dict[str, Any] = {}
    for family, registry, _ in FAMILIES:
        for name in used[family]:
            cls = registry.settings(name)
            if cls is None:
                continue
            own = {f.name: options[f.name] for f in dataclasses.fields(cls) if f.name in options}
            resolved.update(dataclasses.asdict(plugin_settings(cls, own, f"{family} {name!r}")))
    core.options = resolved
    return core.validate()


def search_config(**settings: Any) -> SearchConfig:
    """The SearchConfig of keyword settings, named as the CLI's flags and YAML keys (core and plugin options)."""
    return build_search_config({}, settings, given_source="settings")


def load_search_config(path: str | None, overrides: Mapping[str, Any],
                       override_source: str = "command line") -> SearchConfig:
    """Defaults, then the YAML file `path` (if any), then the non-None `overrides` (flags)."""
    file_values = read_yaml_settings(path) if path else {}
    return build_search_config(file_values, overrides, f"config file {path}", override_source)


def resolved(cfg: SearchConfig) -> SearchConfig:
    """`cfg` with the options of the plugins it uses resolved again (after a strategy settled its defaults, or
    for a SearchConfig built with core settings only)."""
    return build_search_config({}, cfg.to_dict(), given_source="settings")


def _default(f: dataclasses.Field) -> Any:
    return f.default_factory() if f.default is dataclasses.MISSING else f.default  # type: ignore[misc]


def search_schema() -> Schema:
    """How a run folder's saved settings compare with new ones: the defaults of the core and of every plugin
    option (a saved option of a plugin not in use matches at its default), path settings as paths."""
    table = options_table()
    defaults = {**dataclasses.asdict(SearchConfig()), **{k: _default(o.field) for k, o in table.items()}}
    defaults.pop("options", None)
    paths = tuple(f.name for f in dataclasses.fields(SearchConfig) if f.metadata.get("path"))
    return Schema(defaults, paths + tuple(k for k, o in table.items() if o.field.metadata.get("path")))


def option_groups() -> list[tuple[str, list[Option]]]:
    """The options grouped by the settings class that declares them, with a heading naming their plugins, in
    family and registration order (for --help and the command reference)."""
    groups: dict[type, list[Option]] = {}
    for option in options_table().values():
        groups.setdefault(option.declared_by, []).append(option)
    return [(f"options of {opts[0].owners()}", opts) for opts in groups.values()]


def all_search_settings() -> Any:
    """One settings class holding the core and every plugin option once: every flag of `opscore search` (the
    command reference, the flag tests)."""
    parts = [SearchConfig, *dict.fromkeys(o.declared_by for o in options_table().values())]
    return merge_settings("AllSearchSettings", parts, "The core settings of a search and every plugin's options.")
