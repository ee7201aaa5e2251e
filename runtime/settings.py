"""Settings dataclasses typed at the edge: one field definition gives the YAML key, the type check and the CLI flag.

A settings class is a dataclass whose fields are made with `setting(...)`. `load_settings` layers defaults,
a YAML file and the given flags, checking every value against the field's annotation (`coerce`), so a wrong
value is one `SettingsError` line naming the setting, where it came from and the fix; `add_flags` writes one
argparse flag per field (defaults None, so only the flags given override the file) and `given` reads them back.
"""
from __future__ import annotations

import argparse
import dataclasses
import math
import os
import re
import types
import typing
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence, TypeVar

import yaml

T = TypeVar("T")

_MUTABLE_DEFAULTS = (list, dict, set)
# PyYAML follows YAML 1.1, which reads 3e-4 (no dot) as text: such text is still taken as a float
_EXPONENT_FLOAT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")
_DEFAULT_SUFFIX = re.compile(r"\(default:[^()]*\)$")


class SettingsError(ValueError):
    """A settings value, key or file that cannot work; the one-line message names the setting, its source and the fix."""


def setting(default: Any, help: str, *, short: str | None = None, choices: Sequence[Any] | None = None,
            metavar: str | None = None, flag: bool = True, minimum: float | None = None,
            maximum: float | None = None, path: bool = False) -> Any:
    """A settings field: its default, help text, CLI flag details (`--name`, an optional `short` alias) and the
    range a number must lie in (`minimum`/`maximum`, inclusive), so `0` never silently means "the default".
    A `path` setting is made absolute where it is checked (`~` expanded, against the working directory), so a
    run folder records where the file was and a resume from another directory finds the same one."""
    meta = {"help": help, "short": short, "choices": tuple(choices) if choices is not None else None,
            "metavar": metavar, "flag": flag, "minimum": minimum, "maximum": maximum, "path": path}
    if isinstance(default, _MUTABLE_DEFAULTS):
        return dataclasses.field(default_factory=lambda: type(default)(default), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def _is_settings(cls: type) -> None:
    """Refuse what is not a dataclass type: a programming error, not a user one."""
    if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
        raise TypeError(f"{cls!r} is not a settings dataclass")


def _optional(tp: Any) -> tuple[Any, bool]:
    """(the type without None, whether None is allowed) of an annotation such as `int | None`."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        inner = args[0] if len(args) == 1 else typing.Union[tuple(args)]
        return inner, len(args) < len(typing.get_args(tp))
    return tp, False


def _kind(tp: Any) -> str:
    """The expected kind in words, for messages."""
    if typing.get_origin(tp) is list:
        return "a list"
    return {int: "a whole number", float: "a number", bool: "true or false", str: "text"}.get(tp, str(tp))


def _example(name: str, tp: Any, default: Any) -> str:
    """A value of the right kind for the fix: the field's default when it has one."""
    if default is None or default is dataclasses.MISSING or not _fits(tp, default):
        return {int: "1", float: "0.5", bool: "true", str: f"'{name}'"}.get(tp, "...")
    if isinstance(default, str):
        return repr(default)
    return str(default).lower() if isinstance(default, bool) else str(default)


def _fits(tp: Any, value: Any) -> bool:
    """Whether `value` is already of type `tp` (bool is no int, an int is a float)."""
    if tp is Any:
        return True
    if tp is bool:
        return isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if tp is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if typing.get_origin(tp) is list:
        (item,) = typing.get_args(tp) or (Any,)
        return isinstance(value, list) and all(_fits(item, v) for v in value)
    return isinstance(value, tp) if isinstance(tp, type) else True


def _fix(name: str, tp: Any, value: Any, default: Any) -> str:
    """How to write a value of type `tp` instead of the wrong `value`."""
    if tp is str:
        return "quote it"
    if tp is int and isinstance(value, float) and value.is_integer():
        return f"write it as {int(value)}, without the decimal point"
    fix = "write true or false" if tp is bool else f"give {_kind(tp)} such as {_example(name, tp, default)}"
    return fix + (", without quotes" if isinstance(value, str) else "")


def _check_one(field: dataclasses.Field, tp: Any, value: Any, source: str) -> Any:
    """`value` as the field's type, or a SettingsError naming the setting, the source and the fix."""
    name, default, choices = field.name, field.default, field.metadata.get("choices")
    inner, optional = _optional(tp)
    if value is None:
        if optional:
            return None
        raise SettingsError(f"{name} must not be empty, got null ({source}); give {_kind(inner)} such as "
                            f"{_example(name, inner, default)}, or leave it out for the default")
    if inner is float and isinstance(value, str) and _EXPONENT_FLOAT.fullmatch(value.strip()):
        return float(value)
    if not _fits(inner, value) or (inner is float and isinstance(value, float) and math.isnan(value)):
        raise SettingsError(f"{name} must be {_kind(inner)}, got {value!r} ({source}); "
                            f"{_fix(name, inner, value, default)}")
    if choices is not None and value not in choices:
        raise SettingsError(f"{name} must be one of {', '.join(map(str, choices))}, got {value!r} ({source}); "
                            f"choose one of them")
    _check_range(field, value, source)
    if field.metadata.get("path") and isinstance(value, str):
        if not value.strip():
            raise SettingsError(f"{name} must name a file or folder, got an empty text ({source}); give its path, "
                                "or leave it out")
        return absolute_path(value)
    return float(value) if inner is float else value


def absolute_path(value: str) -> str:
    """`value` as an absolute, normalised path (`~` expanded; symlinks kept, so a venv's python stays itself)."""
    return os.path.abspath(os.path.expanduser(value))


def absolute_paths(values: Mapping[str, Any], keys: Iterable[str]) -> dict[str, Any]:
    """`values` with the text of each `keys` entry made absolute (a folder of an earlier version holds paths as
    given: they are taken from the working directory, as a relative flag is)."""
    return {**values, **{k: absolute_path(values[k]) for k in keys if isinstance(values.get(k), str)}}


def path_fields(cls: type) -> tuple[str, ...]:
    """Names of the `path` settings of settings class `cls` (compared as paths when a run resumes)."""
    _is_settings(cls)
    return tuple(f.name for f in dataclasses.fields(cls) if f.metadata.get("path"))


@dataclasses.dataclass(frozen=True)
class Schema:
    """How saved settings compare with new ones: `defaults` fill a key an older config.yaml lacks (written
    before the setting existed), `paths` compare as absolute paths. Derived from the settings class, so a
    command that adds a setting cannot forget either."""

    defaults: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    paths: tuple[str, ...] = ()


def schema_of(cls: type) -> Schema:
    """The comparison schema of settings class `cls`: its defaults and its path settings."""
    _is_settings(cls)
    return Schema(dataclasses.asdict(cls()), path_fields(cls))


def _check_range(field: dataclasses.Field, value: Any, source: str) -> None:
    """A SettingsError when a number lies outside the field's declared [minimum, maximum]."""
    low, high = field.metadata.get("minimum"), field.metadata.get("maximum")
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return
    if low is not None and value < low:
        bound = f"at least {low}" + (f" and at most {high}" if high is not None else "")
        raise SettingsError(f"{field.name} must be {bound}, got {value!r} ({source}); give a value in that range")
    if high is not None and value > high:
        raise SettingsError(f"{field.name} must be at most {high}, got {value!r} ({source}); "
                            f"give a value in that range")


def check_values(cls: type, values: Mapping[str, Any], source: str) -> dict[str, Any]:
    """`values` checked against the fields of `cls` (types from the annotations), floats made float;
    unknown keys are a SettingsError listing the known ones."""
    _is_settings(cls)
    hints = typing.get_type_hints(cls)
    by_name = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(values) - set(by_name))
    if unknown:
        raise SettingsError(f"unknown setting(s) {', '.join(unknown)} ({source}); check the spelling; known: "
                            f"{', '.join(sorted(by_name))}")
    return {k: _check_one(by_name[k], hints[k], v, source) for k, v in values.items()}


def coerce(cls: type[T], values: Mapping[str, Any], source: str) -> T:
    """An instance of settings class `cls`: its defaults, then `values` checked against the field types."""
    return cls(**check_values(cls, values, source))


def read_yaml_settings(path: str | Path, what: str = "config file") -> dict[str, Any]:
    """The mapping of a YAML settings file (`what` names it in errors), keys with dashes written with
    underscores."""
    p = Path(path)
    if p.is_dir():
        raise SettingsError(f"{what} {path} is a folder; give a YAML file")
    if not p.is_file():
        raise SettingsError(f"{what} {path} does not exist; check the path")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as e:
        raise SettingsError(f"{what} {path} is not valid YAML: {str(e).splitlines()[0]}; fix the file") from None
    except UnicodeDecodeError:
        raise SettingsError(f"{what} {path} is not UTF-8 text; give a YAML file") from None
    if not isinstance(data, dict):
        raise SettingsError(f"{what} {path} must hold a mapping of settings (key: value lines)")
    return {str(k).replace("-", "_"): v for k, v in data.items()}


def load_settings(cls: type[T], path: str | Path | None, overrides: Mapping[str, Any],
                  override_source: str = "command line") -> T:
    """Defaults, then the YAML file `path` (if any), then the non-None `overrides`, each checked;
    the class's `validate()` runs at the end when it has one."""
    values: dict[str, Any] = {}
    if path:
        values.update(check_values(cls, read_yaml_settings(path), f"config file {path}"))
    values.update(check_values(cls, {k: v for k, v in overrides.items() if v is not None}, override_source))
    settings = cls(**values)
    validate = getattr(settings, "validate", None)
    if callable(validate):
        validate()
    return settings


def _default_text(value: Any) -> str:
    """A default as the help shows it."""
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


def declaring_class(cls: type, name: str) -> type:
    """The class of `cls`'s MRO that declares settings field `name` (where its default and help are written)."""
    for klass in cls.__mro__:
        if name in vars(klass).get("__annotations__", {}):
            return klass
    raise KeyError(name)


def merge_settings(name: str, classes: Iterable[type], doc: str, methods: Mapping[str, Any] | None = None) -> Any:
    """One settings class holding the fields of every class of `classes` once (a field shared through a common
    base is the same field); its `validate()` validates each part. For a command that accepts the options of a
    whole plugin family (`opscore lookup`: every benchmark source, `opscore proxies`: every validator)."""
    parts = list(dict.fromkeys(classes))
    seen: dict[str, type] = {}
    specs = []
    for part in parts:
        hints = typing.get_type_hints(part)
        for f in dataclasses.fields(part):
            origin = declaring_class(part, f.name)
            if f.name in seen:
                if seen[f.name] is not origin:
                    raise TypeError(f"setting {f.name!r} is declared by both {seen[f.name].__name__} and "
                                    f"{origin.__name__}")
                continue
            seen[f.name] = origin
            specs.append((f.name, hints[f.name], f))

    def validate(self: Any) -> Any:
        for part in parts:
            check = getattr(part, "validate", None)
            if callable(check):
                check(part(**{f.name: getattr(self, f.name) for f in dataclasses.fields(part)}))
        return self

    return dataclasses.make_dataclass(name, specs, namespace={"validate": validate, "__doc__": doc,
                                                              "parts": tuple(parts), **(methods or {})})


def flag_fields(cls: type) -> list[dataclasses.Field]:
    """The fields of `cls` that have a CLI flag: its own first, then those of its settings bases."""
    _is_settings(cls)
    own = set(vars(cls).get("__annotations__", {}))
    fields = [f for f in dataclasses.fields(cls) if f.metadata.get("flag", False)]
    return [f for f in fields if f.name in own] + [f for f in fields if f.name not in own]


def flag_name(field_name: str) -> str:
    """The long flag of a setting: --field-name."""
    return "--" + field_name.replace("_", "-")


def add_flags(parser: argparse.ArgumentParser | argparse._ArgumentGroup, cls: type,
              skip: Iterable[str] = (), only: Iterable[dataclasses.Field] | None = None) -> None:
    """One flag per settings field with flag=True (except `skip`; `only` these fields when given), typed from its
    annotation, defaults None."""
    hints = typing.get_type_hints(cls)
    skipped = set(skip)
    for f in (flag_fields(cls) if only is None else [f for f in only if f.metadata.get("flag", False)]):
        if f.name in skipped:
            continue
        meta = f.metadata
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
        help_text = str(meta["help"])
        if not _DEFAULT_SUFFIX.search(help_text):
            help_text += f" (default: {_default_text(default)})"
        names = [flag_name(f.name)] + ([meta["short"]] if meta.get("short") else [])
        kwargs: dict[str, Any] = {"dest": f.name, "default": None, "help": help_text.replace("%", "%%")}
        inner, _ = _optional(hints[f.name])
        if inner is bool:
            kwargs["action"] = argparse.BooleanOptionalAction
        else:
            if typing.get_origin(inner) is list:
                (inner,) = typing.get_args(inner) or (str,)
                kwargs["nargs"] = "+"
            kwargs["type"] = inner if inner in (int, float, str) else str
            if meta.get("choices") is not None:
                kwargs["choices"] = meta["choices"]
            if meta.get("metavar"):
                kwargs["metavar"] = meta["metavar"]
        parser.add_argument(*sorted(names, key=len), **kwargs)


def given(args: argparse.Namespace, cls: type) -> dict[str, Any]:
    """The settings flags the user passed (not None), as settings keys."""
    return {f.name: getattr(args, f.name) for f in flag_fields(cls) if getattr(args, f.name, None) is not None}


@dataclasses.dataclass
class NoOptions:
    """The settings of a plugin that has no options of its own."""


def plugin_settings(cls: type[T], options: Mapping[str, Any], owner: str) -> T:
    """The settings object of a plugin (`owner`, e.g. "strategy 'evolution'") from its options, checked against
    the field types and ranges, then its `validate()`."""
    settings = coerce(cls, options, owner)
    validate = getattr(settings, "validate", None)
    if callable(validate):
        validate()
    return settings
