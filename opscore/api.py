"""The Python API: a thin, typed facade over search/, train_final/ and the registries, with the CLI's settings names.

`search(**settings)` runs a search as `opscore search` does (the same names as the flags and YAML keys; no run folder
unless `out` is given); `load_genotype` reads a genotype from text, a file or a run folder; `build_network` builds the
stand-alone network the space's retraining recipe trains; `describe` counts its parameters and FLOPs; `list` names
what is registered. A user mistake raises `SettingsError` (or `GenotypeError` for a genotype) with the CLI's line.
"""
from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import nn

from runtime.settings import SettingsError
from supernet.spaces.space import GenotypeError

__all__ = ["Genotype", "GenotypeError", "SearchResult", "SettingsError", "build_network", "describe",
           "load_genotype", "list_registered", "search"]


@dataclass(frozen=True)
class Genotype:
    """A genotype with its space: `str()` is the space's canonical text; equal genotypes compare and hash equal."""

    space: str
    text: str

    def __str__(self) -> str:
        return self.text

    def parsed(self) -> Any:
        """The space's own genotype object (DartsGenotype, NB201Genotype, ...)."""
        from supernet.spaces import SPACES
        space = SPACES.create(self.space)
        return space.parse_genotype(self.text)


@dataclass(frozen=True)
class SearchResult:
    """What a search found: the winner, its validation score, every candidate, the time and the benchmark entry."""

    genotype: Genotype
    score: float
    candidates: list[dict[str, Any]]
    seconds: float
    run_dir: Path | None
    benchmark: dict[str, float] | None
    result: dict[str, Any] = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        """result.json's content."""
        return json.loads(json.dumps(self.result))


def _user_errors() -> tuple[type[BaseException], ...]:
    from search.cli.errors import USER_ERRORS
    return USER_ERRORS


def _as_settings_error(e: BaseException) -> Exception:
    """A user mistake as the API's one exception type (a genotype's stays a GenotypeError), the CLI's message kept."""
    if isinstance(e, (SettingsError, GenotypeError)):
        return e
    return SettingsError(str(e))


def search(*, out: str | Path | None = None, resume: bool = False, progress: bool = False,
           **settings: Any) -> SearchResult:
    """Run a search with `settings` named as `opscore search`'s flags (`space=`, `strategy=`, `iterations=`, plugin
    options, ...). `out=None` writes no run folder (a temporary one holds the checkpoints and is removed);
    `out="runs/x"` writes and resumes (`resume=True`) exactly as the CLI does."""
    from search.plugins import search_config
    from search.search_run import run_search
    try:
        cfg = search_config(**settings)
        scratch = Path(tempfile.mkdtemp(prefix="opscore-search-")) if out is None else None
        run_dir = Path(out) if scratch is None else scratch / "run"
        try:
            result = run_search(cfg, run_dir, resume=resume, progress=progress)
            cands_file = run_dir / "candidates.json"
            candidates = json.loads(cands_file.read_text()) if cands_file.exists() else []
        finally:
            if scratch is not None:
                shutil.rmtree(scratch, ignore_errors=True)
    except _user_errors() as e:
        raise _as_settings_error(e) from None
    return SearchResult(Genotype(result["space"], result["genotype"]), float(result["validation_score"]), candidates,
                        float(result["seconds"]), None if scratch is not None else run_dir, result.get("benchmark"),
                        result)


def load_genotype(source: str | Path | Genotype, space: str | None = None) -> Genotype:
    """A genotype from its text (the space detected unless given), a published name (DARTS_V2), a genotype file or
    a finished run folder."""
    if isinstance(source, Genotype):
        return source
    from search.cli.describe_cmd import PUBLISHED_NAME
    from train_final.genotypes import load_genotype as read, named_genotype
    text = str(source).strip()
    if space is not None and space.startswith("darts") and PUBLISHED_NAME.match(text):  # DARTS_V2 in a subspace
        return Genotype(space, named_genotype(text).text)
    loaded = read(text, space)
    return Genotype(loaded.space, loaded.text)


def _recipe(genotype: Genotype, dataset: str, overrides: dict[str, Any]) -> Any:
    """The space's retraining recipe for `dataset` with the size overrides."""
    from search.cli.describe_cmd import recipe_for
    from train_final.recipe import load_recipe
    known = {"image_size", "channels", "cells", "drop_path", "auxiliary_weight"}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise SettingsError(f"unknown network setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    return load_recipe(recipe_for(genotype.space, dataset), {**overrides, "space": genotype.space,
                                                              "genotype": genotype.text})


def build_network(genotype: str | Genotype, dataset: str = "cifar10", *, num_classes: int | None = None,
                  **overrides: Any) -> nn.Module:
    """The freshly initialised stand-alone network that the space's retraining recipe trains on `dataset` (DARTS:
    C=36, 20 cells and DARTS's auxiliary head on CIFAR; NB201: C=16, N=5; MobileNet: the ProxylessNAS layout at the
    data set's size). `overrides`: image_size, channels, cells, drop_path, auxiliary_weight."""
    from search.cli.describe_cmd import CLASSES
    from train_final.genotypes import load_genotype as read
    from train_final.train_run import build_model
    g = load_genotype(genotype)
    try:
        if dataset not in CLASSES and num_classes is None:
            raise SettingsError(f"dataset must be one of {', '.join(CLASSES)} (or give num_classes), got {dataset!r}")
        recipe = _recipe(g, dataset if dataset in CLASSES else "cifar10", overrides)
        return build_model(read(g.text, g.space), recipe, num_classes or CLASSES[dataset])
    except _user_errors() as e:
        raise _as_settings_error(e) from None


def describe(genotype: str | Genotype, dataset: str = "cifar10", **overrides: Any) -> dict[str, Any]:
    """Parameters (auxiliary head excluded, as DARTS counts) and FLOPs (2 per multiply-add) of the network
    `build_network` builds, as `opscore describe` prints them."""
    from search.cli.describe_cmd import DescribeConfig, describe as count
    from runtime.settings import coerce
    g = load_genotype(genotype)
    try:
        cfg = coerce(DescribeConfig, {"space": g.space, "genotype": g.text, "dataset": dataset, **overrides},
                     "describe").validate()
        return count(cfg)
    except _user_errors() as e:
        raise _as_settings_error(e) from None


def list_registered() -> dict[str, list[str]]:
    """Every registered name by family (what `opscore list` prints)."""
    from scoring.proxies import PROXIES
    from scoring.scorers import SCORERS
    from search.benchmarks import BENCHMARKS
    from search.orders import ORDERS
    from search.strategies import STRATEGIES
    from search.validators import VALIDATORS
    from supernet.mixing import MIXING
    from supernet.spaces import SPACES
    from train_final.recipe import recipe_names
    families = {"strategies": STRATEGIES, "validators": VALIDATORS, "spaces": SPACES, "scorers": SCORERS,
                "proxies": PROXIES, "orders": ORDERS, "mixing": MIXING, "benchmark sources": BENCHMARKS}
    return {**{k: r.names() for k, r in families.items()}, "recipes": list(recipe_names())}
