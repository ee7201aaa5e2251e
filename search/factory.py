"""Wiring: supernet, arch state, proxy and operation scorer built from the search settings."""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from runtime import seeds
from runtime.seeds import derive_seed
from scoring.proxies import get_proxy
from scoring.proxies.base import Proxy
from scoring.scorers import SCORERS, OperationScorer, ScoringContext
from supernet.arch_state import ArchState
from supernet.spaces.base import NetConfig, SearchSpace

from .supernet_train.loading import load_for_search


def build_scoring(cfg: Any, space: SearchSpace, device: torch.device,
                  num_classes: int) -> tuple[ArchState, nn.Module, OperationScorer, Proxy]:
    """Supernet A_0 (seeded), proxy and scorer for a search config."""
    scorer_cls = SCORERS.get(cfg.scorer)
    proxy = get_proxy(cfg.proxy, bn_mode=cfg.bn_mode)
    state = space.new_state()
    base = space.default_net_config("supernet")
    net_cfg = NetConfig(channels=cfg.channels or base.channels, cells=cfg.cells or base.cells,
                        num_classes=num_classes, mixing=cfg.mixing)
    torch.manual_seed(derive_seed(cfg.seed, seeds.SUPERNET_INIT))
    supernet = space.build_supernet(state, net_cfg).to(device)
    if cfg.channels_last:
        supernet = supernet.to(memory_format=torch.channels_last)
    batched = cfg.batched if cfg.batched is not None else device.type == "cuda"
    options: dict[str, Any] = {"config": cfg, "device": device, "batched": batched}
    if cfg.supernet:  # trained by `opscore train-supernet`: its weights, alphas, arch state and tuner
        state, supernet, trained = load_for_search(cfg, space, device, num_classes)
        options.update(trained)
    scorer = scorer_cls(ScoringContext(space, supernet, state, proxy, options))
    return state, supernet, scorer, proxy
