"""The one device resolution of every command."""
from __future__ import annotations

import torch


class DeviceError(ValueError):
    """A --device that names no usable device; the message names the fix."""


def resolve_device(name: str, local_rank: int | None = None) -> torch.device:
    """'auto' is CUDA when present, else the CPU. A CUDA device without an index is the current GPU, or,
    under several processes (`local_rank` given), the process's own GPU, which becomes the current one."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise DeviceError(f"--device {name!r} is not a device; use auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceError(f"--device {name}: no CUDA device is available here; use --device cpu (or auto)")
        if local_rank is not None:
            if local_rank >= torch.cuda.device_count():
                raise DeviceError(f"process {local_rank} on this machine has no GPU of its own (there are "
                                  f"{torch.cuda.device_count()}); start at most that many processes per machine "
                                  "(torchrun --nproc-per-node) or use --device cpu")
            device = torch.device("cuda", local_rank)
        elif device.index is None:
            device = torch.device("cuda", torch.cuda.current_device())
        torch.cuda.set_device(device)
    elif device.type != "cpu":
        raise DeviceError(f"--device {name}: opscore runs on cpu or cuda; use --device cpu, cuda or auto")
    return device
