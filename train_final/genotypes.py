"""Genotype sources for retraining: a run directory, a file, or a string; the space is detected.

Accepted: a run directory whose result.json holds `space` and `genotype` (a search or a training
run); a file holding JSON ({"space", "genotype"}, a DARTS genotype object, or a string) or text;
a published DARTS name (DARTS_V1, DARTS_V2); or a genotype string in the text format of a registered
space, which each space recognises itself (`SearchSpace.claims_text`: a DARTS `Genotype(...)`, an NB201
arch string, an NB-Macro 8-digit string, a MobileNet token list, ...).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from supernet.spaces import SPACES, darts, get_space
from supernet.spaces.space import GenotypeError, SearchSpace

DARTS_SPACE = "darts"
_NAME_RE = re.compile(r"^[A-Z][A-Z0-9_]*$")


def _sources() -> str:
    """The accepted genotype sources in words: a run folder, a file, each registered space's text format."""
    formats = [SPACES.get(n).text_format for n in SPACES.names() if SPACES.get(n).text_format]
    return ", ".join(["a run directory", "a genotype file", *formats[:-1]]) + (f" or {formats[-1]}" if formats else "")


@dataclass(frozen=True)
class LoadedGenotype:
    """A genotype with its space; `text` is the space's community format (what result.json records)."""

    space: str
    genotype: Any
    text: str

    def space_obj(self) -> SearchSpace:
        return get_space(self.space)


def detect_space(text: str) -> str:
    """The space whose text format `text` is written in; GenotypeError naming the accepted forms."""
    s = text.strip()
    for name in SPACES.names():
        if SPACES.get(name).claims_text(s):
            return name
    raise GenotypeError(f"cannot read genotype {_short(s)!r}: expected {_sources()}")


def parse_in_space(space: str, data: Any) -> LoadedGenotype:
    """Parse text (or the JSON form) in `space`; an unregistered space is a GenotypeError."""
    if space not in SPACES:
        raise GenotypeError(f"genotype names space {space!r}, which is not registered; "
                            f"spaces: {', '.join(SPACES.names())}")
    sp = get_space(space)
    g = sp.parse_genotype(data) if isinstance(data, str) else sp.genotype_from_json(data)
    return LoadedGenotype(space, g, sp.format_genotype(g))


def named_genotype(name: str) -> LoadedGenotype:
    """A published genotype by its name in the DARTS space module (DARTS_V1, DARTS_V2)."""
    g = getattr(darts, name, None)
    if g is None or not isinstance(g, darts.DartsGenotype):
        known = sorted(k for k, v in vars(darts).items() if isinstance(v, darts.DartsGenotype))
        raise GenotypeError(f"unknown genotype name {name!r}; published names: {', '.join(known)}")
    return LoadedGenotype(DARTS_SPACE, g, darts.format_darts_genotype(g))


def from_string(text: str, space: str | None = None) -> LoadedGenotype:
    """A genotype written as a string: detected space unless `space` is given."""
    s = text.strip()
    if space is None and _NAME_RE.match(s):
        return named_genotype(s)
    return parse_in_space(space or detect_space(s), s)


def from_json_data(data: Any, where: str, space: str | None = None) -> LoadedGenotype:
    """A genotype from parsed JSON: {"space", "genotype"[, "genotype_json"]}, a DARTS object, or a string."""
    if isinstance(data, str):
        return from_string(data, space)
    if isinstance(data, dict) and "genotype" in data:
        sp = data.get("space") or space
        if sp is None:
            return from_string(str(data["genotype"]))
        payload = data.get("genotype_json", data["genotype"])
        return parse_in_space(str(sp), payload)
    if isinstance(data, dict) and "normal" in data:
        return parse_in_space(space or DARTS_SPACE, data)
    if isinstance(data, list):
        return parse_in_space(space or "mobilenet", data)
    raise GenotypeError(f"{where} holds no genotype: expected {{\"space\": ..., \"genotype\": ...}}, "
                        f"a DARTS genotype object or a genotype string")


def from_run_dir(path: Path, space: str | None = None) -> LoadedGenotype:
    """The genotype of a finished search (or training) run: result.json's `space` and `genotype`."""
    result = path / "result.json"
    if not result.is_file():
        raise GenotypeError(f"run directory {path} has no result.json (is the run finished?)")
    try:
        data = json.loads(result.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise GenotypeError(f"{result} is not valid JSON: {e}") from None
    if not isinstance(data, dict) or "genotype" not in data:
        raise GenotypeError(f"{result} has no 'genotype' entry")
    return from_json_data(data, str(result), space)


def from_file(path: Path, space: str | None = None) -> LoadedGenotype:
    """A genotype file: JSON, or the text of a genotype string."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise GenotypeError(f"genotype file {path} is not text") from None
    stripped = text.strip()
    if not stripped:
        raise GenotypeError(f"genotype file {path} is empty")
    if stripped[0] in "{[\"":
        try:
            data = json.loads(stripped)
        except json.JSONDecodeError as e:
            raise GenotypeError(f"genotype file {path} is not valid JSON: {e}") from None
        return from_json_data(data, str(path), space)
    return from_string(stripped, space)


def load_genotype(source: str, space: str | None = None) -> LoadedGenotype:
    """Read a genotype source (run directory, file or string); `space` overrides the detection."""
    if not source or not source.strip():
        raise GenotypeError(f"empty genotype source; expected {_sources()}")
    p = Path(source).expanduser()
    kind = _path_kind(p)
    if kind == "dir":
        return from_run_dir(p, space)
    if kind == "file":
        return from_file(p, space)
    if "/" in source and "|" not in source and "Genotype" not in source:
        raise GenotypeError(f"genotype source {source} does not exist (expected {_sources()})")
    return from_string(source, space)


def _path_kind(p: Path) -> str | None:
    """'dir', 'file' or None; a genotype string too long to be a file name is simply not a path."""
    try:
        return "dir" if p.is_dir() else "file" if p.is_file() else None
    except OSError:  # ENAMETOOLONG: a DARTS genotype string is longer than any file name
        return None


def _short(s: str, n: int = 80) -> str:
    return s if len(s) <= n else s[:n] + "..."
