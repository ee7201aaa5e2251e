"""Wiring of a search's scoring: the supernet A_0 (untrained and seeded, or trained), the proxy and the
operation scorer, from the few settings they need (the search algorithm itself is in search.proposals)."""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Mapping

import torch
from torch import nn

from runtime.seeds import SUPERNET_INIT, derive_seed
from scoring.proxies import PROXIES, get_proxy
from scoring.proxies.proxy import Proxy
from scoring.scorers import SCORERS, OperationScorer, ScoringContext
from scoring.scorers.darts_pt import TunedScorerSettings
from supernet.arch_state import ArchState
from supernet.spaces.space import NetConfig, SearchSpace

from .config import DEFAULT_PROXY, ZCPT_BN_MODE, SearchConfig
from .supernet_train.loading import SupernetSource, load_for_search


@dataclass(frozen=True)
class ScoringSettings:
    """The settings that decide how a search scores operations."""

    scorer: str
    proxy: str
    bn_mode: str = "eval"  # BN statistics of the proxies
    seed: int = 0  # the supernet's initialisation stream is derived from it
    mixing: str = "uniform"
    channels: int | None = None  # supernet width (space default when unset)
    cells: int | None = None  # supernet depth (space default when unset)
    channels_last: bool = False
    batched: bool | None = None  # grouped evaluation of an edge's ops (None: on for CUDA)
    scorer_options: Mapping[str, Any] = field(default_factory=dict)  # the scorer's own options (its Settings)
    proxy_options: Mapping[str, Any] = field(default_factory=dict)  # the proxy's own options (its Settings)
    supernet: SupernetSource | None = None  # a trained supernet instead of an untrained one


def scoring_settings(cfg: SearchConfig) -> ScoringSettings:
    """The scoring settings of a search config (the one place that maps config fields onto them)."""
    source = None
    options = cfg.options_of(SCORERS, cfg.scorer)
    supernet = cfg.option("supernet")
    if supernet:  # fine-tuning settings of the scorer that fine-tunes (the defaults for the others)
        tuned = TunedScorerSettings(**{f.name: options[f.name] for f in fields(TunedScorerSettings) if f.name in options})
        source = SupernetSource(path=supernet, space=cfg.space, data=cfg.data_spec(),
                                batch_size=cfg.batch_size, bn_mode=cfg.bn_mode or ZCPT_BN_MODE, mixing=cfg.mixing,
                                channels=cfg.channels, cells=cfg.cells, accuracy_batches=tuned.accuracy_batches,
                                tune_lr=tuned.tune_lr, fix_alpha=tuned.fix_alpha, channels_last=cfg.channels_last)
    return ScoringSettings(scorer=cfg.scorer, proxy=cfg.proxy or DEFAULT_PROXY, bn_mode=cfg.bn_mode or ZCPT_BN_MODE,
                           seed=cfg.seed, mixing=cfg.mixing, channels=cfg.channels, cells=cfg.cells, channels_last=cfg.channels_last,
                           batched=cfg.option("batched"), scorer_options=options,
                           proxy_options=cfg.options_of(PROXIES, cfg.proxy or DEFAULT_PROXY),
                           supernet=source)


def default_batched(space: SearchSpace, device: torch.device) -> bool:
    """Grouped scoring when `--batched` is not given: on CUDA where the space gains from it, never on the CPU
    (1.07x slower at batch 64 there)."""
    return device.type == "cuda" and space.grouped_on_cuda


def build_scoring(settings: ScoringSettings, space: SearchSpace, device: torch.device,
                  num_classes: int, input_size: int = 32) -> tuple[ArchState, nn.Module, OperationScorer, Proxy]:
    """Supernet A_0 (seeded; the trained one with `settings.supernet`) for `input_size` px images, its arch
    state, proxy and scorer."""
    SCORERS.get(settings.scorer)  # an unknown name fails before the supernet is built
    proxy = get_proxy(settings.proxy, bn_mode=settings.bn_mode, **settings.proxy_options)
    state = space.new_state()
    base = space.default_net_config("supernet")
    net_cfg = NetConfig(channels=settings.channels or base.channels, cells=settings.cells or base.cells,
                        num_classes=num_classes, mixing=settings.mixing, input_size=input_size)
    torch.manual_seed(derive_seed(settings.seed, SUPERNET_INIT))
    supernet = space.build_supernet(state, net_cfg).to(device)
    if settings.channels_last:
        supernet = supernet.to(memory_format=torch.channels_last)
    batched = settings.batched if settings.batched is not None else default_batched(space, device)
    trained = None
    if settings.supernet is not None:  # trained by `opscore train-supernet`: its weights, alphas, arch state
        loaded = load_for_search(settings.supernet, space, device, num_classes)
        state, supernet, trained = loaded.state, loaded.supernet, loaded.tuner
    ctx = ScoringContext(space, supernet, state, proxy, batched=batched, trained=trained)
    return state, supernet, SCORERS.create(settings.scorer, ctx=ctx, **settings.scorer_options), proxy
