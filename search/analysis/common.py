"""Pieces shared by the analyses: proxy lists, the run directory, the scoring data."""
from __future__ import annotations

import csv
import io
import logging
import math
from pathlib import Path
from typing import Any, Sequence

import torch

from runtime.io import atomic_write_text
from runtime.seeds import SEED_MAX
from scoring.proxies import PROXIES
from runtime.data import DataSpec, build_dataset, num_classes_of

from ..batches import Batch, BatchStream
from ..config import ConfigError

log = logging.getLogger(__name__)


def parse_names(text: str, known: Sequence[str], what: str) -> list[str]:
    """'all' or a comma list of registered names (each checked), in the given order, no duplicates."""
    if text.strip() == "all":
        return list(known)
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise ConfigError(f"no {what} given; pass a comma list or 'all'")
    for n in names:
        if n not in known:
            raise ConfigError(f"unknown {what} {n!r}; choose from: {', '.join(known)} (or 'all')")
    return list(dict.fromkeys(names))


def parse_proxies(text: str) -> list[str]:
    """Proxy names from --proxies."""
    return parse_names(text, PROXIES.names(), "proxy")


def parse_seeds(text: str) -> list[int]:
    """Seeds from '0,1,2,3'."""
    try:
        seeds = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise ConfigError(f"--seeds must be a comma list of integers, got {text!r}") from None
    if not seeds:
        raise ConfigError("--seeds is empty; pass e.g. --seeds 0,1,2,3")
    bad = [s for s in seeds if not 0 <= s <= SEED_MAX]
    if bad:
        raise ConfigError(f"--seeds must be whole numbers from 0 to {SEED_MAX}, got {bad[0]}")
    return list(dict.fromkeys(seeds))


def scoring_batches(spec: DataSpec, batch_size: int, n: int, seed: int,
                    device: torch.device) -> tuple[list[Batch], int]:
    """`n` seeded minibatches of the training split of `spec` (no augmentation) and the number of classes."""
    if batch_size < 2:
        raise ConfigError(f"batch size must be at least 2, got {batch_size}")
    dataset = build_dataset(spec, "train", augment=False, seed=seed)
    if len(dataset) < batch_size:  # type: ignore[arg-type]
        raise ConfigError(f"the data set has {len(dataset)} images, fewer than --batch-size {batch_size}")
    stream = BatchStream(dataset, batch_size, seed, device)
    return stream.take(n), num_classes_of(dataset)


def fmt(v: Any) -> str:
    """CSV cell: floats in full precision (repr), nan/inf spelled out."""
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    return str(v)


def write_csv(path: str | Path, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A CSV file written atomically."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    for r in rows:
        w.writerow([fmt(v) for v in r])
    atomic_write_text(path, buf.getvalue())
