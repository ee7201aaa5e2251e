"""PNG figures of the analyses, drawn with matplotlib's object API on the Agg canvas (no global backend)."""
from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Mapping, Sequence

import numpy as np

from runtime.io import atomic_write

if TYPE_CHECKING:  # matplotlib costs ~0.35 s to import: each function imports it on use
    from matplotlib.figure import Figure


def save_png(fig: Figure, path: str | Path) -> None:
    """Write `fig` as PNG atomically."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=110, bbox_inches="tight"))


def scatter_grid(path: str | Path, scores: Mapping[str, Sequence[float]], accuracy: Sequence[float],
                 acc_label: str, titles: Mapping[str, str]) -> None:
    """One scatter plot per proxy: proxy score (x) against benchmark accuracy (y); non-finite points left out."""
    from matplotlib.figure import Figure

    names = list(scores)
    cols = min(4, max(1, len(names)))
    rows = max(1, math.ceil(len(names) / cols))
    fig = Figure(figsize=(3.6 * cols, 3.0 * rows))
    acc = np.asarray(accuracy, dtype=float)
    for i, name in enumerate(names):
        ax = fig.add_subplot(rows, cols, i + 1)
        x = np.asarray(scores[name], dtype=float)
        ok = np.isfinite(x) & np.isfinite(acc)
        ax.scatter(x[ok], acc[ok], s=8, alpha=0.6)
        ax.set_title(titles.get(name, name), fontsize=9)
        ax.set_xlabel(name, fontsize=8)
        ax.set_ylabel(acc_label, fontsize=8)
        ax.tick_params(labelsize=7)
    fig.tight_layout()
    save_png(fig, path)


def grouped_bars(path: str | Path, table: Mapping[str, Mapping[str, float]], ylabel: str, title: str) -> None:
    """Bar chart: one group per scorer, one bar per column of `table` (column -> scorer -> value)."""
    from matplotlib.figure import Figure

    columns = list(table)
    scorers = list(dict.fromkeys(s for col in table.values() for s in col))
    fig = Figure(figsize=(max(6.0, 0.9 * len(scorers) + 2), 4.0))
    ax = fig.add_subplot(1, 1, 1)
    width = 0.8 / max(1, len(columns))
    xs = np.arange(len(scorers))
    for j, col in enumerate(columns):
        vals = [table[col].get(s, math.nan) for s in scorers]
        ax.bar(xs + (j - (len(columns) - 1) / 2) * width, np.nan_to_num(vals, nan=0.0), width, label=col)
    ax.axhline(0.0, color="black", linewidth=0.6)
    ax.set_xticks(xs)
    ax.set_xticklabels(scorers, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_png(fig, path)
