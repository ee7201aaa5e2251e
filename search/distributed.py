"""Spreading a search's proposal iterations (and validation candidates) over processes.

Launched with torchrun (RANK / WORLD_SIZE / LOCAL_RANK set), each rank runs the iterations
i with i % world == rank; every iteration is seeded by (seed, i) alone, so the gathered result is
identical to the sequential run. NCCL when the search runs on CUDA (one GPU per local rank), gloo on the
CPU (also on a machine that has GPUs). Only rank 0 writes files.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, TypeVar

import torch
import torch.distributed as dist

from runtime.device import resolve_device

T = TypeVar("T")


@dataclass
class Workers:
    """This process's place among the search workers."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    owns_group: bool = False

    @classmethod
    def from_env(cls, device: str = "auto") -> "Workers":
        """From torchrun's variables; initialises the process group when there is more than one worker, with
        the backend of the device the search runs on (`device` as --device gives it)."""
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world <= 1:
            return cls()
        rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
        owns = False
        if not dist.is_initialized():
            backend = "nccl" if resolve_device(device, local).type == "cuda" else "gloo"
            dist.init_process_group(backend, rank=rank, world_size=world)
            owns = True
        return cls(rank, world, local, owns)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def device(self, requested: torch.device) -> torch.device:
        """One GPU per local rank when the requested device is CUDA."""
        if requested.type == "cuda" and self.world > 1:
            return torch.device("cuda", self.local_rank)
        return requested

    def mine(self, items: list[T]) -> list[T]:
        """This rank's share (round robin)."""
        return items[self.rank::self.world]

    def gather(self, part: list[Any]) -> list[Any]:
        """Concatenation of every rank's `part` (in rank order), on every rank."""
        if self.world == 1:
            return list(part)
        parts: list[Any] = [None] * self.world
        dist.all_gather_object(parts, part)
        return [x for p in parts for x in p]

    def barrier(self) -> None:
        """Wait for every worker (no-op alone)."""
        if self.world > 1:
            dist.barrier()

    def close(self) -> None:
        if self.owns_group and dist.is_initialized():
            dist.destroy_process_group()
