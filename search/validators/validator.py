"""Validator contract: how the validation stage ranks candidate genotypes (higher score = better).

A validator builds each candidate as a freshly initialised stand-alone network (the same init seed for
every candidate, so a candidate's score does not depend on the others) and scores it: by a zero-cost
proxy summed over V minibatches (`proxy`, Xiang et al. 2023), or after a little training (`tse`,
`tse-e`, `tse-ema`: Ru et al. 2021; `fear`: Dey et al. 2021). Each declares its own options as its `Settings`
(the training validators share `TrainingSettings`); `ValidatorSettings` (search.validators) holds them all, for
a command that may run any of them (opscore proxies).
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field, replace
from typing import Any, Callable, ClassVar, Mapping

import torch
from torch import nn
from torch.utils.data import Dataset

from runtime.seeds import VALIDATION, derive_seed
from runtime.settings import NoOptions, SettingsError, plugin_settings, setting
from scoring.proxies.proxy import Proxy
from supernet.registry import Registry
from supernet.spaces.space import NetConfig, SearchSpace

CurveSink = Callable[[list[dict[str, Any]]], None]


def vote_members(spec: str) -> list[str]:
    """The member validators named by `--vote` ("proxy,tse-ema"), in order."""
    return [n.strip() for n in spec.split(",") if n.strip()]


@dataclass
class TrainingSettings:
    """Options of the validators that train each candidate a little (tse, tse-e, tse-ema, fear)."""

    val_epochs: int = setting(1, "tse*/fear: training epochs of each candidate (fear: stage 1's cap)", minimum=1)
    val_steps_per_epoch: int | None = setting(None, "tse*/fear: minibatches per epoch (default: a pass over the "
                                                    "data)", minimum=1)
    val_batch_size: int | None = setting(None, "tse*/fear: training minibatch size (default: --batch-size)",
                                            minimum=2)
    val_lr: float = setting(0.1, "tse*/fear: SGD learning rate, cosine to 0 over the training (NB201's recipe)")
    val_weight_decay: float = setting(5e-4, "tse*/fear: SGD weight decay (NB201's recipe)", minimum=0.0)
    val_train_channels: int | None = setting(None, "tse*/fear: width of the network they train (default: the "
                                                   "validation network's); a vote can train small while its "
                                                   "proxy member sums on the usual network", minimum=1)
    val_train_cells: int | None = setting(None, "tse*/fear: depth of the network they train (default: the "
                                                "validation network's)", minimum=1)

    def validate(self) -> None:
        """A positive learning rate."""
        if self.val_lr <= 0:
            raise SettingsError(f"--val-lr must be positive, got {self.val_lr}")


@dataclass
class ValidationContext:
    """What a validator scores with: the space, the data, the network size, the device and the seed."""

    space: SearchSpace
    dataset: Dataset
    num_classes: int
    net_cfg: NetConfig
    device: torch.device
    seed: int
    batch_size: int
    channels_last: bool = False
    proxy: Proxy | None = None
    batches: list[tuple[torch.Tensor, torch.Tensor]] = field(default_factory=list)  # the V proxy minibatches
    repeat: int = 0  # which of a validator's repeated trainings (--val-repeats); 0: the single run's seeds

    def seed_for(self, purpose: int) -> int:
        """The seed of one use (initialisation, training data) in this repeat; repeat 0 keeps the single run's."""
        return derive_seed(self.seed, VALIDATION, purpose, *([self.repeat] if self.repeat else []))

    def network(self, genotype: str, channels: int | None = None, cells: int | None = None) -> nn.Module:
        """The candidate's stand-alone network, initialised from the same seed for every candidate; `channels`
        and `cells` override the context's size (the training validators' --val-train-channels/-cells)."""
        torch.manual_seed(self.seed_for(7))
        cfg = replace(self.net_cfg, channels=channels or self.net_cfg.channels, cells=cells or self.net_cfg.cells)
        net = self.space.build_network(self.space.parse_genotype(genotype), cfg).to(self.device)
        return net.to(memory_format=torch.channels_last) if self.channels_last else net


@dataclass
class Verdict:
    """A candidate's score (higher is better) and what it cost and recorded on the way."""

    score: float
    details: dict[str, Any] = field(default_factory=dict)  # e.g. steps, rejected, the raw estimate
    curve: list[dict[str, Any]] = field(default_factory=list)  # per training step: loss, accuracy, stage


class Validator(ABC):
    """Base of every validator; `needs_proxy` says whether it scores with the search's proxy."""

    name: ClassVar[str] = ""
    needs_proxy: ClassVar[bool] = False
    order_dependent: ClassVar[bool] = False  # a verdict depends on the candidates scored before it
    repeatable: ClassVar[bool] = False  # --val-repeats averages several trainings of a candidate

    Settings: ClassVar[type] = NoOptions  # the validator's own options (flags, YAML keys)

    def __init__(self, **options: Any) -> None:
        self.settings: Any = plugin_settings(self.Settings, options, f"validator {self.name!r}")

    @classmethod
    def in_use(cls, options: Mapping[str, Any]) -> list[str]:
        """The validators a run of this one uses, given the run's flat options (a vote: itself and its members),
        so that their options are accepted."""
        return [cls.name]

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> "Validator":
        """This validator built from a run's flat options (each validator takes its own)."""
        return VALIDATORS.create(cls.name, **{k: options[k] for k in VALIDATORS.options(cls.name) if k in options})

    def finalize(self, scores: Mapping[str, float], details: Mapping[str, Mapping[str, Any]]) -> dict[str, float]:
        """The final scores of the candidates scored so far, from their scores and details (a vote ranks them
        among each other); idempotent, and the identity for a validator whose scores stand alone."""
        return dict(scores)

    def restore(self, details: Mapping[str, Mapping[str, Any]]) -> None:
        """Take up the details of candidates an interrupted run already scored (state across candidates)."""

    def independent(self) -> None:
        """Score every candidate as if it came first (candidates spread over processes); `settle` then applies,
        in candidate order, what depends on the candidates before."""

    def settle(self, ordered: list[tuple[str, float, dict[str, Any]]]) -> dict[str, tuple[float, dict[str, Any]]]:
        """(score, details) of each candidate, scored independently, as the sequential run in this order gives."""
        return {g: (score, details) for g, score, details in ordered}

    @abstractmethod
    def score(self, ctx: ValidationContext, genotype: str) -> Verdict:
        """Score one candidate."""


VALIDATORS: Registry[type[Validator]] = Registry("validator")


def build_validator(name: str, options: Mapping[str, Any]) -> Validator:
    """The validator `name` built from a run's flat options (its own and, for a vote, its members')."""
    return VALIDATORS.get(name).from_options(options)
