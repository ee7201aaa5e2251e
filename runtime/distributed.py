"""torchrun for every command: this process's place among the workers, the process group, reductions, shards.

Retraining (train_final) runs DistributedDataParallel: `distributed(...)` joins the group and gives the `DistEnv`,
`all_reduce_sum`, `broadcast_buffers` and `ShardSampler` do the rest. A search (search.search_run) spreads its
proposal iterations and validation candidates over the ranks with `Workers`: rank r runs the items i with
i % world == r; every iteration is seeded by (seed, i) alone, so the gathered result is identical to the
sequential run. NCCL on CUDA (one GPU per local rank), gloo on the CPU. Only rank 0 writes files.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator, TypeVar

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import Sampler

from .device import resolve_device


@dataclass(frozen=True)
class DistEnv:
    """This process's place in the job (torchrun's RANK, WORLD_SIZE, LOCAL_RANK; 0, 1, 0 alone)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        """Rank 0: the only process that writes files, logs progress and prints."""
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world > 1


def env_from_environ() -> DistEnv:
    """The job layout set by torchrun (a single process when the variables are absent)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", str(rank)))
    return DistEnv(rank, world, local)


@contextmanager
def distributed(device_name: str, init_method: str = "env://") -> Iterator[tuple[DistEnv, torch.device]]:
    """Join the process group when launched with several processes (NCCL on CUDA, gloo on CPU); leave it after."""
    env = env_from_environ()
    device = resolve_device(device_name, env.local_rank if env.active else None)
    created = False
    if env.active and not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend, init_method=init_method, rank=env.rank, world_size=env.world)
        created = True
    try:
        yield env, device
        if created:  # every process finished before the group goes: one leaving early can abort another's gloo threads
            dist.barrier()
    finally:
        if created:
            dist.destroy_process_group()


def all_reduce_sum(t: torch.Tensor, env: DistEnv) -> torch.Tensor:
    """Sum of `t` over the processes (in place); `t` itself when alone."""
    if env.active:
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t


def barrier(env: DistEnv) -> None:
    """Wait for every process (no-op alone)."""
    if env.active:
        dist.barrier()


def broadcast_buffers(model: nn.Module, env: DistEnv) -> None:
    """Give every process rank 0's buffers (BN running statistics drift apart between DDP broadcasts)."""
    if env.active:
        for b in model.buffers():
            dist.broadcast(b, src=0)


class ShardSampler(Sampler[int]):
    """Indices rank, rank + world, ... in order: every item exactly once over the processes (no padding),
    so sums reduced over ranks equal the single-process sums (evaluation)."""

    def __init__(self, length: int, env: DistEnv) -> None:
        self.length, self.env = length, env

    def __iter__(self) -> Iterator[int]:
        return iter(range(self.env.rank, self.length, self.env.world))

    def __len__(self) -> int:
        return len(range(self.env.rank, self.length, self.env.world))


T = TypeVar("T")


@dataclass
class Workers:
    """This process's place among a search's workers, and how they share the work (round robin) and gather it."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    owns_group: bool = False

    @classmethod
    def from_env(cls, device: str = "auto") -> "Workers":
        """From torchrun's variables (`env_from_environ`); initialises the process group when there is more than
        one worker, with the backend of the device the search runs on (`device` as --device gives it)."""
        env = env_from_environ()
        if not env.active:
            return cls()
        owns = False
        if not dist.is_initialized():
            backend = "nccl" if resolve_device(device, env.local_rank).type == "cuda" else "gloo"
            dist.init_process_group(backend, rank=env.rank, world_size=env.world)
            owns = True
        return cls(env.rank, env.world, env.local_rank, owns)

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
