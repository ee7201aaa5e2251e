"""One reader of torch checkpoints a run wrote: a missing or damaged file is one line naming it and what to do,
never torch's own message (which suggests the unsafe `weights_only=False`)."""
from __future__ import annotations

import os
import pickle
import zipfile
from pathlib import Path
from typing import Any, Iterable

import torch

# what torch.load raises on a truncated, empty, text or otherwise foreign file
_DAMAGE = (pickle.UnpicklingError, EOFError, RuntimeError, ValueError, OSError, KeyError, IndexError, TypeError,
           AttributeError, ImportError, zipfile.BadZipFile)


class CheckpointError(ValueError):
    """A checkpoint file that is missing, damaged, or not the kind expected; the line names the file and the fix."""


def read_checkpoint(path: str | os.PathLike, what: str, fix: str, map_location: str | torch.device = "cpu",
                    keys: Iterable[str] = ()) -> Any:
    """The content of checkpoint `path` (tensors and plain data only: weights_only); a dict holding `keys` when
    any are given. `what` names the file in errors, `fix` says what to do about it."""
    p = Path(path)
    if not p.is_file():
        raise CheckpointError(f"{what} {p} does not exist; {fix}")
    try:
        data = torch.load(p, map_location=map_location, weights_only=True)
    except _DAMAGE:
        raise CheckpointError(f"{what} {p} is damaged (truncated, empty, or not a checkpoint opscore wrote); "
                              f"{fix}") from None
    required = list(keys)
    if required and (not isinstance(data, dict) or any(k not in data for k in required)):
        raise CheckpointError(f"{what} {p} is not a complete checkpoint of this run (missing "
                              f"{', '.join(k for k in required if not isinstance(data, dict) or k not in data)}); "
                              f"{fix}")
    return data
