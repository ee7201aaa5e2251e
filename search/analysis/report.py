"""`opscore report`: many finished search run directories -> one table grouped by their settings.

Runs are grouped by the settings that differ between them (config.yaml), leaving out `seed` and `out`
(and the paths that name another file per run: `score_cache`, which changes no result, and `proposals_from`,
the run of the same seed whose proposals a run validates); a setting a folder of an earlier version lacks
counts at its default, as `--resume` takes it. Each group gets the number of runs and the
mean and standard deviation (ddof 1, as the papers' "mean +- std" over runs) of every benchmark accuracy
in result.json, of `seconds`, of `unique_candidates` and, where runs record it, of `sample_oracle` (the best
table accuracy among a search's candidates: NASWOT's "optimal" line, Zero-Cost-PT's ceiling). Written to REPORT_DIR: report.csv,
report.md and report.png (mean +- std of the first benchmark column, or seconds, per group).
"""
from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import yaml

from runtime.io import atomic_write_text
from runtime.settings import Schema, absolute_paths

from ..config import ConfigError
from ..plugins import search_schema
from .common import write_csv
from .plots import save_png

log = logging.getLogger(__name__)

FREE = ("seed", "out", "score_cache", "proposals_from")  # settings that do not define a group


@dataclass
class Run:
    """One finished run directory: its settings and result."""

    path: Path
    settings: dict[str, Any]
    result: dict[str, Any]


@dataclass
class Group:
    """Runs with the same values of the differing settings, and their metrics."""

    settings: dict[str, Any]
    runs: list[Run] = field(default_factory=list)

    def values(self, metric: str) -> list[float]:
        """The metric of every run of the group that has it."""
        out = []
        for r in self.runs:
            v = metric_of(r.result, metric)
            if v is not None:
                out.append(v)
        return out


def metric_of(result: dict[str, Any], metric: str) -> float | None:
    """`seconds`, `unique_candidates`, `benchmark.COLUMN` or `sample_oracle.COLUMN` of a result.json, as a float
    (None if absent)."""
    if "." in metric:
        entry, column = metric.split(".", 1)
        value = (result.get(entry) or {}).get(column)
    else:
        value = result.get(metric)
    return None if value is None else float(value)


def read_run(path: str | Path) -> Run:
    """A finished run directory; an unfinished or foreign one is a one-line ConfigError."""
    p = Path(path)
    if not (p / "result.json").is_file():
        raise ConfigError(f"{p} has no result.json (not a finished search run); finish it with --resume or leave "
                          "it out")
    if not (p / "config.yaml").is_file():
        raise ConfigError(f"{p} has no config.yaml (not an opscore search run); leave it out")
    try:
        result = json.loads((p / "result.json").read_text(encoding="utf-8"))
        settings = yaml.safe_load((p / "config.yaml").read_text(encoding="utf-8")) or {}
    except (ValueError, yaml.YAMLError) as e:
        raise ConfigError(f"{p}: cannot read result.json/config.yaml ({str(e).splitlines()[0]}); leave it out") \
            from None
    if not isinstance(result, dict) or not isinstance(settings, dict):
        raise ConfigError(f"{p}: result.json and config.yaml must each hold a mapping; leave the run out")
    for entry in ("benchmark", "sample_oracle"):
        if not isinstance(result.get(entry) or {}, dict):
            raise ConfigError(f"{p / 'result.json'}: {entry} is not a mapping of metrics; leave the run out")
    for metric in ["seconds", "unique_candidates", *(f"{e}.{k}" for e in ("benchmark", "sample_oracle")
                                                     for k in (result.get(e) or {}))]:
        try:
            metric_of(result, metric)
        except (TypeError, ValueError):
            raise ConfigError(f"{p / 'result.json'}: {metric} is not a number; leave the run out") from None
    return Run(p, settings, result)


def group_runs(runs: Sequence[Run], schema: Schema = Schema()) -> tuple[list[str], list[Group]]:
    """The differing setting names and the groups (in order of first appearance); a setting a run lacks takes
    its value from the `schema` defaults (None where it has none); path settings compare as absolute paths (a
    folder of an earlier version recorded them as given, taken here from the working directory, as --resume
    does)."""
    settings = [absolute_paths({**{k: v for k, v in schema.defaults.items() if k not in r.settings},
                                **r.settings}, schema.paths)
                for r in runs]
    keys = sorted({k for s in settings for k in s} - set(FREE))
    differing = [k for k in keys if len({json.dumps(s.get(k), sort_keys=True) for s in settings}) > 1]
    groups: dict[str, Group] = {}
    for r, s in zip(runs, settings):
        values = {k: s.get(k) for k in differing}
        groups.setdefault(json.dumps(values, sort_keys=True), Group(values)).runs.append(r)
    return differing, list(groups.values())


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof 1; NaN for fewer than 2 values)."""
    if not values:
        return math.nan, math.nan
    a = np.asarray(values, dtype=float)
    return float(a.mean()), float(a.std(ddof=1)) if len(a) > 1 else math.nan


def _cell(mean: float, std: float) -> str:
    if math.isnan(mean):
        return "-"
    return f"{mean:.2f}" if math.isnan(std) else f"{mean:.2f} ± {std:.2f}"


def write_report(run_dirs: Sequence[str | Path], out: str | Path) -> dict[str, Any]:
    """Read the runs, group them, write report.csv, report.md and report.png into `out`; return the summary."""
    if not run_dirs:
        raise ConfigError("opscore report needs at least one RUN_DIR")
    runs = [read_run(d) for d in run_dirs]
    differing, groups = group_runs(runs, search_schema())
    bench = sorted({f"benchmark.{k}" for r in runs for k in (r.result.get("benchmark") or {})})
    oracle = sorted({f"sample_oracle.{k}" for r in runs for k in (r.result.get("sample_oracle") or {})})
    metrics = bench + ["seconds", "unique_candidates"] + oracle
    rows, summary = [], []
    for g in groups:
        stats = {m: mean_std(g.values(m)) for m in metrics}
        rows.append([*(g.settings[k] for k in differing), len(g.runs),
                     *(x for m in metrics for x in stats[m])])
        summary.append({"settings": g.settings, "runs": len(g.runs),
                        "metrics": {m: {"mean": s[0], "std": s[1]} for m, s in stats.items()}})
    folder = Path(out)
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"--out {folder} is a file; choose a folder")
    folder.mkdir(parents=True, exist_ok=True)
    header = [*differing, "runs", *(f"{m}_{s}" for m in metrics for s in ("mean", "std"))]
    write_csv(folder / "report.csv", header, rows)
    md = ["| " + " | ".join([*differing, "runs", *metrics]) + " |", "|" + "---|" * (len(differing) + 1 + len(metrics))]
    for g, row in zip(groups, summary):
        cells = [str(g.settings[k]) for k in differing] + [str(row["runs"])]
        cells += [_cell(row["metrics"][m]["mean"], row["metrics"][m]["std"]) for m in metrics]
        md.append("| " + " | ".join(cells) + " |")
    atomic_write_text(folder / "report.md", "\n".join(md) + "\n\nmean ± std (ddof 1) over runs\n")
    _plot(folder / "report.png", differing, groups, summary, metrics[0])
    log.info("report of %d runs in %d groups written to %s", len(runs), len(groups), folder)
    return {"groups": summary, "differing": differing, "runs": len(runs)}


def _plot(path: Path, differing: list[str], groups: list[Group], summary: list[dict[str, Any]], metric: str) -> None:
    """Mean +- std of `metric` per group (horizontal error bars)."""
    labels = [", ".join(f"{k}={g.settings[k]}" for k in differing) or "all runs" for g in groups]
    labels = [t if len(t) <= 60 else t[:57] + "..." for t in labels]
    means = [s["metrics"][metric]["mean"] for s in summary]
    stds = [0.0 if math.isnan(s["metrics"][metric]["std"]) else s["metrics"][metric]["std"] for s in summary]
    from matplotlib.figure import Figure  # imported on use: matplotlib is slow to import

    fig = Figure(figsize=(7.0, 0.5 * len(groups) + 1.5))
    ax = fig.add_subplot(1, 1, 1)
    y = np.arange(len(groups))
    ax.errorbar(means, y, xerr=stds, fmt="o", capsize=3)
    ax.set_yticks(y)
    ax.set_yticklabels(labels, fontsize=7)
    ax.set_xlabel(f"{metric} (mean ± std over runs)", fontsize=8)
    ax.invert_yaxis()
    fig.tight_layout()
    save_png(fig, path)
