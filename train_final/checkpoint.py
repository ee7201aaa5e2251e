"""Reading training checkpoints (written with runtime.io.atomic_torch_save)."""
from __future__ import annotations

import os
from typing import Any

import torch


def load_checkpoint(path: str | os.PathLike, device: torch.device | str = "cpu") -> dict[str, Any]:
    """Read a checkpoint (tensors and plain data only: weights_only)."""
    return torch.load(path, map_location=device, weights_only=True)
