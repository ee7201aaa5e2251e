"""Reading training checkpoints (written with runtime.io.atomic_torch_save)."""
from __future__ import annotations

import os
from typing import Any, Iterable

import torch

from runtime.checkpoint_file import read_checkpoint

# what --resume needs from checkpoints/last.pt
RESUME_KEYS = ("model", "optimizer", "schedule", "scaler", "rng", "epoch", "history", "seconds", "best")
RESTART = "delete it to restart this run from its first epoch (--resume then starts afresh in the same folder)"


def load_checkpoint(path: str | os.PathLike, device: torch.device | str = "cpu", what: str = "training checkpoint",
                    fix: str = RESTART, keys: Iterable[str] = ()) -> dict[str, Any]:
    """Read a checkpoint (tensors and plain data only: weights_only); a damaged one is a one-line CheckpointError."""
    return read_checkpoint(path, what, fix, device, keys)
