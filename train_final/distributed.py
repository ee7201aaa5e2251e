"""Single device or many processes (torchrun / DistributedDataParallel): ranks, devices, reductions, shards."""
from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import Sampler

from runtime.device import resolve_device


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
