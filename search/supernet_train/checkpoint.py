"""Files of a supernet-training run: the resumable training checkpoint and the scorer-facing supernet.pt.

supernet.pt (format 'opscore-supernet', version 1) holds what scorers and searches need: the space
(name, options, candidates per edge), the net config, the method and its mixing rules, the weights,
the alphas, the arch state, and the train/validation split (so a search scores on the held-out half).
Both files are written atomically (runtime.io.atomic_torch_save).
"""
from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

import torch

FORMAT, VERSION = "opscore-supernet", 1


class SupernetCheckpointError(ValueError):
    """A --supernet file that is missing, unreadable, or not a supernet written by train-supernet."""


def safe_load(path: str | os.PathLike, what: str, map_location: str | torch.device = "cpu") -> Any:
    """torch.load restricted to tensors and plain data (weights_only); one-line error otherwise."""
    p = Path(path)
    if not p.is_file():
        raise SupernetCheckpointError(f"{what} {p} does not exist (write one with opscore train-supernet)")
    try:
        return torch.load(p, map_location=map_location, weights_only=True)
    except (RuntimeError, pickle.UnpicklingError, EOFError, ValueError, OSError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise SupernetCheckpointError(f"cannot read {what} {p}: {first}") from None


def read_supernet(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """The content of a supernet.pt, checked for its format and version."""
    data = safe_load(path, "supernet checkpoint", map_location)
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise SupernetCheckpointError(f"{path} is not a supernet checkpoint written by opscore train-supernet")
    if data.get("version") != VERSION:
        raise SupernetCheckpointError(f"{path} has supernet format version {data.get('version')}; "
                                      f"this opscore reads version {VERSION}")
    return data
