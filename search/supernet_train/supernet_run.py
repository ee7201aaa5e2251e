"""A complete supernet-training run: config -> split -> epochs -> run directory.

Run directory: config.yaml (resolved settings), checkpoint.pt (everything needed to continue, written
after every epoch), supernet.pt (what scorers need, after every epoch), history.jsonl (per-epoch
metrics, argmax genotype, mixing weights), result.json (at the end), train.log, tb/ (TensorBoard
scalars and the alphas as a heatmap image). Every random draw of epoch t comes from generators seeded
with (seed, t), so `resume=True` re-runs an interrupted epoch from the last checkpoint exactly.
"""
from __future__ import annotations

import dataclasses
import logging
import math
import time
from itertools import islice
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn
from torch.utils.data import Dataset
from tqdm import tqdm

from runtime.device import resolve_device
from runtime.rundir import RunFolder
from runtime.seeds import TRAIN_SUPERNET_EPOCH, TRAIN_SUPERNET_INIT, derive_seed
from runtime.settings import schema_of
from scoring.scorers.darts_alpha import argmax_genotype, candidate_weights
from supernet.arch_state import ArchState
from supernet.spaces import get_space
from supernet.spaces.space import NetConfig, SearchSpace
from runtime.data import DataSpec, build_dataset, num_classes_of

from ..benchmarks import BenchmarkSet, open_table
from .architects import ARCHITECTS, Architect, ArchSettings
from .checkpoint import FORMAT, VERSION, safe_load
from .config import SupernetTrainConfig
from .data import Split, check_split, cycle, loader
from .heatmap import heatmap_image
from .trainer import SupernetTrainer, WeightSettings, evaluate, init_alphas, move

# what --resume needs from checkpoint.pt, and what to do when it is damaged
RESUME_KEYS = ("epoch", "trainer", "history")
RESTART = ("delete it to restart this run from its first epoch (--resume then starts afresh in the same "
           "folder)")

log = logging.getLogger(__name__)


def arch_settings(cfg: SupernetTrainConfig) -> ArchSettings:
    """The architect's settings from a training config."""
    return ArchSettings(lr=cfg.arch_lr, betas=(cfg.arch_beta1, cfg.arch_beta2), weight_decay=cfg.arch_weight_decay,
                        reg=cfg.reg, reg_scale=cfg.reg_scale, tse_steps=cfg.tse_steps)


def build_training(space: SearchSpace, cfg: SupernetTrainConfig, num_classes: int, device: torch.device
                   ) -> tuple[ArchState, nn.Module, SupernetTrainer, NetConfig]:
    """Seeded alphas and supernet of `space`, the method's architect and the weight optimiser."""
    arch_cls = ARCHITECTS.get(cfg.method)
    state = space.new_state()
    base = space.default_net_config("supernet")
    net_cfg = NetConfig(channels=cfg.channels or base.channels, cells=cfg.cells or base.cells,
                        num_classes=num_classes, mixing=arch_cls.mixing)
    torch.manual_seed(derive_seed(cfg.seed, TRAIN_SUPERNET_INIT))
    alphas = init_alphas(state, cfg.alpha_init_std, device)  # before building: mixed ops read state.alphas
    model = space.build_supernet(state, net_cfg).to(device)
    if cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)
    architect = ARCHITECTS.create(cfg.method, model=model, alphas=alphas, settings=arch_settings(cfg))
    ws = WeightSettings(cfg.lr, cfg.lr_min, cfg.momentum, cfg.weight_decay, cfg.grad_clip, cfg.resolved_epochs())
    return state, model, SupernetTrainer(model, alphas, architect, ws), net_cfg


def supernet_record(space: SearchSpace, cfg: SupernetTrainConfig, state: ArchState, net_cfg: NetConfig,
                    trainer: SupernetTrainer, split: Split, epoch: int) -> dict[str, Any]:
    """The content of supernet.pt (see checkpoint.py)."""
    arch: Architect = trainer.architect  # type: ignore[assignment]
    return {"format": FORMAT, "version": VERSION, "space": cfg.space, "space_options": cfg.space_options(),
            "candidates": {e: list(state.candidates(e)) for e in state.edge_ids()},
            "net_config": net_cfg.to_dict(), "method": cfg.method,
            "mixing": arch.mixing, "eval_mixing": arch.eval_mixing,
            "weights": trainer.model.state_dict(), "alphas": {e: p.detach().clone() for e, p in trainer.alphas.items()},
            "arch_state": state.snapshot(), "split": split.to_dict(),
            "data": {"dataset": cfg.dataset, "augment": cfg.augment, "num_classes": net_cfg.num_classes},
            "epoch": epoch, "epochs": cfg.resolved_epochs(), "config": cfg.to_dict()}


def _weights_table(state: ArchState, mixing: str) -> dict[str, dict[str, float]]:
    return {e: candidate_weights(state, e, mixing) for e in state.edge_ids()}


def _mean_entropy(weights: dict[str, dict[str, float]]) -> float:
    """Mean entropy (nats) of the per-edge mixing weights: log|O| when uniform, 0 when one-hot."""
    hs = [-sum(w * math.log(w) for w in ws.values() if w > 0) for ws in weights.values()]
    return sum(hs) / max(1, len(hs))


def train_supernet(cfg: SupernetTrainConfig, out: str | Path, resume: bool = False, progress: bool = True, *,
                   space: SearchSpace | None = None, dataset: Dataset | None = None,
                   on_step: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Train the supernet described by `cfg` into the run directory `out`; returns result.json's content.

    `space` and `dataset` replace the registered space and the configured data (tests, programmatic
    use); `on_step(epoch, step)` is called after every training step.
    """
    t_start = time.perf_counter()
    cfg = dataclasses.replace(cfg, epochs=cfg.resolved_epochs()).validate()
    out = Path(out)
    space = space or get_space(cfg.space, **cfg.space_options())
    benchmark = BenchmarkSet([open_table(cfg.benchmark_table)]) if cfg.benchmark_table else None
    spec = DataSpec(cfg.dataset, cfg.data_root, cfg.download, bad_images=cfg.bad_images)
    train_ds = dataset if dataset is not None else build_dataset(spec, "train", augment=cfg.augment, seed=cfg.seed)
    checked = dataclasses.replace(spec, bad_images="off" if cfg.bad_images == "fail" else cfg.bad_images)
    eval_ds = dataset if dataset is not None else build_dataset(checked, "train", augment=False, seed=cfg.seed)
    num_classes = num_classes_of(train_ds)
    split = Split(len(train_ds), cfg.train_portion, cfg.seed)  # type: ignore[arg-type]
    check_split(split, cfg.batch_size)
    train_idx, valid_idx = split.indices()
    device = resolve_device(cfg.device)
    folder = RunFolder.open(out, cfg.to_dict(), resume=resume, markers=("checkpoint.pt", "result.json"),
                            schema=schema_of(SupernetTrainConfig))
    ckpt = (safe_load(folder.path("checkpoint.pt"), "training checkpoint", fix=RESTART, keys=RESUME_KEYS)
            if folder.exists("checkpoint.pt") else None)
    with folder.logging_to("train.log"), folder.tensorboard() as writer:
        state, model, trainer, net_cfg = build_training(space, cfg, num_classes, device)
        arch: Architect = trainer.architect  # type: ignore[assignment]
        history: list[dict[str, Any]] = []
        first, carried = 0, 0.0
        if ckpt is not None:
            trainer.load_state_dict(ckpt["trainer"])
            history, first = list(ckpt["history"]), int(ckpt["epoch"])
            folder.write_jsonl("history.jsonl", history)  # derived from the checkpoint: a damaged copy is rewritten
            carried = sum(float(r.get("seconds", 0.0)) for r in history)  # the killed run's checkpointed time
            log.info("resuming %s after epoch %d", out, first)
        epochs = cfg.resolved_epochs()
        log.info("train-supernet %s: space=%s method=%s epochs=%d batch=%d seed=%d device=%s train/valid=%d/%d",
                 out, cfg.space, cfg.method, epochs, cfg.batch_size, cfg.seed, device, len(train_idx), len(valid_idx))
        eval_loader = loader(eval_ds, valid_idx, cfg.batch_size, None, cfg.workers, drop_last=False)
        n_eval = len(eval_loader) if cfg.eval_batches is None else min(cfg.eval_batches, len(eval_loader))
        for epoch in range(first, epochs):
            t0 = time.perf_counter()
            torch.manual_seed(derive_seed(cfg.seed, TRAIN_SUPERNET_EPOCH, epoch))  # augmentation, Dirichlet samples
            bs, seeds = cfg.batch_size, [derive_seed(cfg.seed, TRAIN_SUPERNET_EPOCH, epoch, k) for k in (1, 2)]
            tl = loader(train_ds, train_idx, bs, seeds[0], cfg.workers)
            vl = loader(train_ds, valid_idx, bs, seeds[1], cfg.workers)
            bar = tqdm(tl, desc=f"epoch {epoch + 1}/{epochs}", disable=not progress, leave=False)
            batches = (move(b, device, cfg.channels_last) for b in bar)
            vbatches = (move(b, device, cfg.channels_last) for b in cycle(vl))
            step_cb = (lambda s, e=epoch: on_step(e, s)) if on_step is not None else None
            metrics = trainer.run_epoch(batches, vbatches, epoch >= cfg.arch_start_epoch, step_cb)
            row: dict[str, Any] = {"epoch": epoch + 1, **metrics}
            if n_eval:
                ev = evaluate(model, (move(b, device, cfg.channels_last) for b in islice(eval_loader, n_eval)),
                              arch.eval_mixing)
                row.update(eval_loss=ev["loss"], eval_acc=ev["accuracy"])
            genotype = space.format_genotype(argmax_genotype(space, state, arch.eval_mixing))
            weights = _weights_table(state, arch.eval_mixing)
            row.update(genotype=genotype, alpha_entropy=_mean_entropy(weights), seconds=time.perf_counter() - t0,
                       weights=weights)
            if benchmark is not None:
                row["benchmark"] = benchmark.result_entries(genotype)["benchmark"]  # a miss is a warning, not a stop
            history.append(row)
            folder.save_torch("checkpoint.pt", {"epoch": epoch + 1, "trainer": trainer.state_dict(),
                                                "history": history, "config": cfg.to_dict()})
            folder.save_torch("supernet.pt", supernet_record(space, cfg, state, net_cfg, trainer, split, epoch + 1))
            folder.write_jsonl("history.jsonl", history)
            _log_epoch(writer, row, weights)
            log.info("epoch %d/%d: %s", epoch + 1, epochs, {k: v for k, v in row.items() if k != "weights"})
        last = history[-1]
        result: dict[str, Any] = {
            "space": cfg.space, "method": cfg.method, "epochs": epochs, "seed": cfg.seed, "batch_size": cfg.batch_size,
            "genotype": last["genotype"],
            "genotype_json": space.genotype_to_json(space.parse_genotype(last["genotype"])),
            "supernet": str(out / "supernet.pt"), "train_images": len(train_idx), "valid_images": len(valid_idx),
            "final": {k: v for k, v in last.items() if k not in ("weights", "genotype")},
            "training_seconds": sum(r["seconds"] for r in history), "device": str(device),
        }
        if "benchmark" in last:
            result["benchmark"] = last["benchmark"]
        result["seconds"] = time.perf_counter() - t_start + carried
        folder.finish(result)
        return result


def _log_epoch(writer: Any, row: dict[str, Any], weights: dict[str, dict[str, float]]) -> None:
    """TensorBoard: scalars of the epoch and the alphas heatmap."""
    step = row["epoch"]
    for key, tag in (("train_loss", "train/loss"), ("train_acc", "train/acc"), ("arch_valid_loss", "arch/valid_loss"),
                     ("arch_valid_acc", "arch/valid_acc"), ("eval_loss", "eval/loss"), ("eval_acc", "eval/acc"),
                     ("lr", "lr"), ("alpha_entropy", "arch/alpha_entropy"), ("arch_updates", "arch/updates"),
                     ("seconds", "epoch_seconds")):
        if key in row:
            writer.add_scalar(tag, row[key], step)
    for k, v in row.get("benchmark", {}).items():
        writer.add_scalar(f"benchmark/{k}", v, step)
    writer.add_image("alphas", heatmap_image(weights, f"epoch {step}"), step, dataformats="HWC")
    writer.add_text("genotype", row["genotype"], step)
