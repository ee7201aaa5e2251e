"""The train/validation split of the training set and seeded loaders (one data order per epoch and seed)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import torch
from torch.utils.data import DataLoader, Dataset, Subset

from runtime import seeds
from runtime.seeds import derive_seed

from ..config import ConfigError
from .architects import Batch


@dataclass(frozen=True)
class Split:
    """Which images train the weights and which the alphas: a seeded permutation cut at `portion`."""

    size: int
    portion: float
    seed: int

    def indices(self) -> tuple[list[int], list[int]]:
        """(train indices, validation indices)."""
        perm = torch.randperm(self.size, generator=torch.Generator().manual_seed(derive_seed(self.seed, seeds.SUPERNET_SPLIT)))
        k = min(max(int(round(self.size * self.portion)), 1), self.size - 1)
        return perm[:k].tolist(), perm[k:].tolist()

    def to_dict(self) -> dict:
        return {"size": self.size, "portion": self.portion, "seed": self.seed}


def check_split(split: Split, batch_size: int) -> None:
    """Both halves must hold at least one minibatch."""
    train, valid = split.indices()
    if min(len(train), len(valid)) < batch_size:
        raise ConfigError(f"the split of {split.size} images gives {len(train)} training and {len(valid)} validation "
                          f"images, fewer than --batch-size {batch_size}; use a smaller batch or more data")


def loader(dataset: Dataset, indices: list[int], batch_size: int, seed: int | None, workers: int = 0,
           drop_last: bool = True) -> DataLoader:
    """Minibatches of `dataset[indices]`: shuffled by a generator seeded with `seed` (None: in order)."""
    gen = torch.Generator().manual_seed(seed) if seed is not None else None
    return DataLoader(Subset(dataset, indices), batch_size=batch_size, shuffle=seed is not None, generator=gen,
                      num_workers=workers, drop_last=drop_last)


def cycle(dl: DataLoader) -> Iterator[Batch]:
    """Endless passes over `dl` (a new shuffle from its generator each pass)."""
    while True:
        yielded = False
        for batch in dl:
            yielded = True
            yield batch
        if not yielded:
            raise ValueError("cannot cycle over an empty loader")
