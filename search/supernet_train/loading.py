"""`opscore search --supernet RUN_DIR/supernet.pt`: rebuild the trained supernet, its arch state and
alphas, and the tuner (validation half of the training split, fine-tuning) for the training-based scorers.
It takes the settings it needs as a SupernetSource (search.factory builds one from a search config)."""
from __future__ import annotations

from dataclasses import dataclass
from itertools import islice
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset

from supernet.arch_state import ArchState
from supernet.spaces.space import NetConfig, SearchSpace
from runtime.data import DataSpec, build_dataset

from ..config import ConfigError
from .architects import ARCHITECTS, Architect, ArchSettings
from .checkpoint import read_supernet
from .data import Split, loader
from .tuning import SupernetTuner, TuneSettings


@dataclass(frozen=True)
class SupernetSource:
    """Where the trained supernet comes from and the search settings its loading depends on."""

    path: str  # RUN_DIR/supernet.pt, written by `opscore train-supernet`
    space: str  # the search's space name (must be the checkpoint's)
    data: DataSpec  # the training data set it was trained on (the validation half is taken from it)
    batch_size: int
    bn_mode: str  # BN statistics when measuring accuracy
    mixing: str = "uniform"  # 'uniform': the checkpoint's evaluation rule; anything else replaces it
    channels: int | None = None  # must match the checkpoint when set
    cells: int | None = None
    accuracy_batches: int | None = None  # validation minibatches (None: the whole held-out half)
    tune_lr: float = 0.0025
    fix_alpha: bool = False
    channels_last: bool = False


@dataclass
class LoadedSupernet:
    """A trained supernet rebuilt for a search: its arch state (with the trained alphas), the module, the tuner."""

    state: ArchState
    supernet: nn.Module
    tuner: SupernetTuner


def _check_compatible(ckpt: dict[str, Any], src: SupernetSource, space: SearchSpace, num_classes: int) -> None:
    """The search's space, sizes and data must be those the supernet was trained with."""
    path = src.path
    if ckpt["space"] != src.space:
        raise ConfigError(f"{path} is a {ckpt['space']!r} supernet but the search space is {src.space!r}; "
                          f"pass --space {ckpt['space']}")
    cands = {e: list(ops) for e, ops in space.candidates().items()}
    if cands != ckpt["candidates"]:
        raise ConfigError(f"{path} was trained with other candidate ops (space options {ckpt['space_options']}); "
                          f"search with the same space options")
    net = ckpt["net_config"]
    for key, mine in (("channels", src.channels), ("cells", src.cells)):
        if mine is not None and mine != net[key]:
            raise ConfigError(f"--{key} {mine} differs from the trained supernet's {net[key]}; leave it unset")
    if num_classes != net["num_classes"]:
        raise ConfigError(f"the search data has {num_classes} classes but {path} was trained on {net['num_classes']}; "
                          f"use the training data set")


def load_for_search(src: SupernetSource, space: SearchSpace, device: torch.device, num_classes: int,
                    dataset: Dataset | None = None) -> LoadedSupernet:
    """The trained supernet of `src.path`, its arch state with trained alphas, and its tuner (accuracy on
    the validation half of the training split, fine-tuning) for the training-based scorers.

    The supernet mixes with the checkpoint's evaluation rule (softmax-fixed: DARTS-PT's mask without
    renormalisation; dirichlet-mean for DrNAS), unless the search sets a mixing rule other than
    'uniform'. `dataset` replaces the configured training data (tests, programmatic use).
    """
    ckpt = read_supernet(src.path, "cpu")
    _check_compatible(ckpt, src, space, num_classes)
    state = space.new_state()
    state.restore(ckpt["arch_state"])
    alphas = {e: nn.Parameter(ckpt["alphas"][e].detach().clone().to(device)) for e in state.edge_ids()}
    state.alphas.update(alphas)
    eval_mixing = ckpt["eval_mixing"] if src.mixing == "uniform" else src.mixing
    net = ckpt["net_config"]
    net_cfg = NetConfig.from_dict({**net, "mixing": eval_mixing})
    supernet = space.build_supernet(state, net_cfg).to(device)
    supernet.load_state_dict(ckpt["weights"])
    channels_last = src.channels_last
    if channels_last:
        supernet = supernet.to(memory_format=torch.channels_last)

    train_cfg = ckpt["config"]
    if dataset is not None:
        train_ds = eval_ds = dataset
    else:
        train_ds = build_dataset(src.data, "train", augment=bool(ckpt["data"]["augment"]), seed=train_cfg["seed"])
        eval_ds = build_dataset(src.data, "train", augment=False, seed=train_cfg["seed"])
    split = Split(**ckpt["split"])
    size = len(train_ds)  # type: ignore[arg-type]
    if size != split.size:
        raise ConfigError(f"the search data set has {size} images but {src.path} was trained on "
                          f"{split.size}; use the same --dataset and --data-root")
    train_idx, valid_idx = split.indices()
    bs = src.batch_size
    acc_loader = loader(eval_ds, valid_idx, bs, None, drop_last=False)
    n_acc = len(acc_loader) if src.accuracy_batches is None else min(src.accuracy_batches, len(acc_loader))
    ARCHITECTS.get(ckpt["method"])  # an unknown method fails here, not at the first fine-tuning
    settings = ArchSettings(lr=train_cfg["arch_lr"], betas=(train_cfg["arch_beta1"], train_cfg["arch_beta2"]),
                            weight_decay=train_cfg["arch_weight_decay"], reg=train_cfg["reg"],
                            reg_scale=train_cfg["reg_scale"], tse_steps=train_cfg["tse_steps"])

    def make_architect() -> Architect:
        return ARCHITECTS.create(ckpt["method"], model=supernet, alphas=alphas, settings=settings)

    tune = TuneSettings(lr=src.tune_lr, momentum=train_cfg["momentum"],
                        weight_decay=train_cfg["weight_decay"], grad_clip=train_cfg["grad_clip"],
                        fix_alpha=src.fix_alpha, bn_mode=src.bn_mode)
    tuner = SupernetTuner(
        supernet, alphas,
        train_loader=lambda seed: loader(train_ds, train_idx, bs, seed),
        valid_loader=lambda seed: loader(train_ds, valid_idx, bs, seed),
        accuracy_batches=islice(acc_loader, n_acc), mixing=ckpt["mixing"], eval_mixing=eval_mixing,
        settings=tune, make_architect=make_architect, device=device, channels_last=channels_last)
    return LoadedSupernet(state, supernet, tuner)
