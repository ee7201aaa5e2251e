"""Validator contract: how the validation stage ranks candidate genotypes (higher score = better).

A validator builds each candidate as a freshly initialised stand-alone network (the same init seed for
every candidate, so a candidate's score does not depend on the others) and scores it: by a zero-cost
proxy summed over V minibatches (`proxy`, Xiang et al. 2023), or after a little training (`tse`,
`tse-e`, `tse-ema`: Ru et al. 2021; `fear`: Dey et al. 2021). Their settings are `ValidatorSettings`,
fields shared by every command that validates (opscore search, opscore proxies).
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field, replace
from typing import Any, Callable, ClassVar, Mapping

import torch
from torch import nn
from torch.utils.data import Dataset

from runtime.seeds import VALIDATION, derive_seed
from runtime.settings import SettingsError, setting
from scoring.proxies.base import Proxy
from supernet.registry import Registry
from supernet.spaces.base import NetConfig, SearchSpace

CurveSink = Callable[[list[dict[str, Any]]], None]


def vote_members(spec: str) -> list[str]:
    """The member validators named by `--vote` ("proxy,tse-ema"), in order."""
    return [n.strip() for n in spec.split(",") if n.strip()]


@dataclass
class ValidatorSettings:
    """Settings of the validators (a base of the settings of every command that validates)."""

    validator: str = setting("proxy", "validation ranker: proxy (the proxy summed over V minibatches), tse, "
                                      "tse-e, tse-ema, fear (opscore list)")
    val_epochs: int = setting(1, "tse*/fear: training epochs of each candidate (fear: stage 1's cap)")
    val_steps_per_epoch: int | None = setting(None, "tse*/fear: minibatches per epoch (default: a pass over the "
                                                    "data)")
    val_batch_size: int | None = setting(None, "tse*/fear: training minibatch size (default: --batch-size)",
                                            minimum=2)
    val_lr: float = setting(0.1, "tse*/fear: SGD learning rate, cosine to 0 over the training (NB201's recipe)")
    val_weight_decay: float = setting(5e-4, "tse*/fear: SGD weight decay (NB201's recipe)")
    tse_e: int = setting(1, "tse-e: the last E epochs count (Ru et al. 2021: E=1)")
    tse_gamma: float = setting(0.999, "tse-ema: decay gamma (Ru et al. 2021's recommendation)")
    fear_threshold: float = setting(0.6, "fear: training accuracy that ends stage 1 (Dey et al. 2021: 0.6 on "
                                         "CIFAR-10; `opscore fear-threshold` derives it)")
    fear_window: int = setting(10, "fear: stage 1 ends when the mean accuracy of this many last minibatches "
                                   "reaches the threshold")
    fear_freeze: float = setting(0.53, "fear: share of the parameters, from the input on, frozen in stage 2 "
                                       "(Dey et al. 2021: about 53%)")
    fear_stage2_steps: int = setting(50, "fear: minibatches of stage 2 (last layers only)")
    fear_reject_ratio: float = setting(4.0, "fear: early-reject a candidate whose stage 1 needs more than r "
                                            "times the fewest steps so far (Dey et al. 2021: r=4)")
    vote: str = setting("proxy,tse-ema", "vote: the validators whose ranks are summed (comma list of two or more)")
    val_repeats: int = setting(1, "tse*: train each candidate R times (each from its own initialisation and "
                                  "minibatch order; the first is the single run's) and average the estimates: "
                                  "less noise for R times the cost", minimum=1)
    val_train_channels: int | None = setting(None, "tse*/fear: width of the network they train (default: the "
                                                   "validation network's); a vote can train small while its "
                                                   "proxy member sums on the usual network", minimum=1)
    val_train_cells: int | None = setting(None, "tse*/fear: depth of the network they train (default: the "
                                                "validation network's)", minimum=1)

    def validate_validator(self) -> None:
        """Range checks of the validator settings."""
        positive = {"val_epochs": self.val_epochs, "tse_e": self.tse_e, "fear_window": self.fear_window,
                    "val_steps_per_epoch": 1 if self.val_steps_per_epoch is None else self.val_steps_per_epoch,
                    "fear_stage2_steps": self.fear_stage2_steps, "val_repeats": self.val_repeats}
        for key, v in positive.items():
            if v < 1:
                raise SettingsError(f"--{key.replace('_', '-')} must be at least 1, got {v}")
        if self.val_batch_size is not None and self.val_batch_size < 2:
            raise SettingsError(f"--val-batch-size must be at least 2, got {self.val_batch_size}")
        if not 0.0 < self.tse_gamma <= 1.0:
            raise SettingsError(f"--tse-gamma must be in (0, 1], got {self.tse_gamma}")
        if not 0.0 <= self.fear_freeze < 1.0:
            raise SettingsError(f"--fear-freeze is a share of the parameters in [0, 1), got {self.fear_freeze}")
        if not 0.0 < self.fear_threshold <= 1.0:
            raise SettingsError(f"--fear-threshold is a training accuracy in (0, 1], got {self.fear_threshold}")
        if self.fear_reject_ratio < 1.0:
            raise SettingsError(f"--fear-reject-ratio must be at least 1, got {self.fear_reject_ratio}")
        if self.val_lr <= 0 or self.val_weight_decay < 0:
            raise SettingsError("--val-lr must be positive and --val-weight-decay 0 or more")
        if self.validator == "vote":
            self._validate_vote()
        used = self.validators_in_use()
        if all(n in VALIDATORS for n in used):  # an unknown name is reported where the validator is created
            self._validate_training_settings(used)

    def _validate_vote(self) -> None:
        """The members of --vote: two or more distinct registered validators, not vote itself."""
        members = vote_members(self.vote)
        for n in members:
            if n == "vote" or n not in VALIDATORS:
                raise SettingsError(f"--vote: {n!r} is not a validator to vote with; choose from "
                                    f"{', '.join(v for v in VALIDATORS.names() if v != 'vote')}")
        if len(set(members)) < 2 or len(set(members)) < len(members):
            raise SettingsError(f"--vote needs two or more different validators, e.g. proxy,tse-ema; got {self.vote!r}")

    def _validate_training_settings(self, used: list[str]) -> None:
        """--val-repeats and --val-train-* only with a validator they apply to (never silently ignored)."""
        what = ", ".join(used) or "none"
        if self.val_repeats > 1 and not any(VALIDATORS.get(n).repeatable for n in used):
            raise SettingsError(f"--val-repeats applies to tse, tse-e and tse-ema, and none is in use (validators: "
                                f"{what}): drop --val-repeats or choose a tse validator")
        sized = {"val_train_channels": self.val_train_channels, "val_train_cells": self.val_train_cells}
        for key, v in sized.items():
            if v is not None and all(VALIDATORS.get(n).needs_proxy for n in used):
                raise SettingsError(f"--{key.replace('_', '-')} sizes the network that tse*/fear train, and none "
                                    f"is in use (validators: {what}): drop it or choose a training validator")

    def validators_in_use(self) -> list[str]:
        """The validators these settings run (a vote: its members); `opscore proxies` names its own."""
        return vote_members(self.vote) if self.validator == "vote" else [self.validator]


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

    def __init__(self, settings: ValidatorSettings) -> None:
        self.settings = settings

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
