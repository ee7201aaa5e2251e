"""The alphas as a heatmap image (edges x ops, the mixing weight in each cell) for TensorBoard."""
from __future__ import annotations

from typing import Mapping

import numpy as np


def weights_matrix(weights: Mapping[str, Mapping[str, float]]) -> tuple[list[str], list[str], np.ndarray]:
    """(edges, ops, matrix) with NaN where an op is not a candidate of the edge (per-edge op sets)."""
    edges = list(weights)
    ops: list[str] = []
    for w in weights.values():
        ops += [o for o in w if o not in ops]
    m = np.full((len(edges), len(ops)), np.nan)
    for i, e in enumerate(edges):
        for j, o in enumerate(ops):
            if o in weights[e]:
                m[i, j] = weights[e][o]
    return edges, ops, m


def heatmap_image(weights: Mapping[str, Mapping[str, float]], title: str = "") -> np.ndarray:
    """An RGB image (H, W, 3, uint8) of the per-edge mixing weights, rendered without pyplot."""
    edges, ops, m = weights_matrix(weights)
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # imported on use: slow to import
    from matplotlib.figure import Figure

    fig = Figure(figsize=(1.2 + 1.1 * len(ops), 0.9 + 0.32 * len(edges)), dpi=80)
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    im = ax.imshow(np.ma.masked_invalid(m), vmin=0.0, vmax=max(1e-9, float(np.nanmax(m))) if m.size else 1.0,
                   cmap="viridis", aspect="auto")
    ax.set_xticks(range(len(ops)), ops, rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(len(edges)), edges, fontsize=8)
    for i in range(len(edges)):
        for j in range(len(ops)):
            if not np.isnan(m[i, j]):
                ax.text(j, i, f"{m[i, j]:.2f}", ha="center", va="center", fontsize=7, color="white")
    if title:
        ax.set_title(title, fontsize=9)
    fig.colorbar(im, ax=ax)
    fig.tight_layout()
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()
