"""Files of a supernet-training run: the resumable training checkpoint and the scorer-facing supernet.pt.

supernet.pt (format 'opscore-supernet', version 1) holds what scorers and searches need: the space
(name, options, candidates per edge), the net config, the method and its mixing rules, the weights,
the alphas, the arch state, and the train/validation split (so a search scores on the held-out half).
Both files are written atomically (runtime.io.atomic_torch_save).
"""
from __future__ import annotations

import os
from typing import Any

import torch

from runtime.checkpoint_file import CheckpointError, read_checkpoint

FORMAT, VERSION = "opscore-supernet", 1


REWRITE = "write it again with opscore train-supernet"


class SupernetCheckpointError(CheckpointError):
    """A --supernet file that is missing, unreadable, or not a supernet written by train-supernet."""


def safe_load(path: str | os.PathLike, what: str, map_location: str | torch.device = "cpu", fix: str = REWRITE,
              keys: tuple[str, ...] = ()) -> Any:
    """torch.load restricted to tensors and plain data (weights_only); one line naming the file and `fix`
    otherwise."""
    try:
        return read_checkpoint(path, what, fix, map_location, keys)
    except SupernetCheckpointError:
        raise
    except CheckpointError as e:
        raise SupernetCheckpointError(str(e)) from None


def read_supernet(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """The content of a supernet.pt, checked for its format and version."""
    data = safe_load(path, "supernet checkpoint", map_location)
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise SupernetCheckpointError(f"{path} is not a supernet checkpoint written by opscore train-supernet")
    if data.get("version") != VERSION:
        raise SupernetCheckpointError(f"{path} has supernet format version {data.get('version')}; "
                                      f"this opscore reads version {VERSION}")
    return data
