"""A complete retraining run: recipe + genotype -> data, network, epochs -> run directory.

Run directory (written by rank 0 only, every file atomically): recipe.yaml (the resolved recipe,
genotype included), checkpoints/last.pt (every epoch: model, optimiser, schedule, scaler, RNG
states of every process, epoch, metrics history), checkpoints/best.pt (with a validation split:
the epoch of the best validation top-1), metrics.jsonl (one row per epoch), result.json,
train.log and tb/ (TensorBoard scalars). `resume=True` continues from last.pt and reproduces the
uninterrupted run exactly on the same machine and process count.

Honest numbers: result.json's test_top1/test_top5 are those of the final epoch; the test set never
selects anything. With `val_split`, an epoch is selected on the held-out part of the training set
and its test accuracy is reported separately under `selection`.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Subset
from tqdm import tqdm

from runtime import seeds
from runtime.io import atomic_torch_save
from runtime.rng import rng_state, seed_all, set_rng_state
from runtime.rundir import RunFolder
from runtime.seeds import derive_seed
from runtime.settings import schema_of
from supernet.spaces.space import NetConfig

from .checkpoint import RESUME_KEYS, load_checkpoint
from runtime.data import DataSpec, build_dataset, holdout_split, num_classes_of
from runtime.distributed import DistEnv, ShardSampler, barrier, broadcast_buffers, distributed
from .genotypes import LoadedGenotype, parse_in_space
from .loop import StepSettings, evaluate, make_scaler, train_one_epoch
from .metrics import count_flops, count_params
from .recipe import RESUME_FREE, Recipe, RecipeError
from .schedules import build_optimizer, build_schedule

log = logging.getLogger(__name__)

EpochHook = Callable[[int], None]


@dataclass
class RunPaths:
    """The files of a run directory."""

    root: Path

    @property
    def recipe(self) -> Path:
        return self.root / "recipe.yaml"

    @property
    def last(self) -> Path:
        return self.root / "checkpoints" / "last.pt"

    @property
    def best(self) -> Path:
        return self.root / "checkpoints" / "best.pt"

    @property
    def metrics(self) -> Path:
        return self.root / "metrics.jsonl"

    @property
    def result(self) -> Path:
        return self.root / "result.json"


@dataclass
class DataBundle:
    """Training, optional validation (held out from training) and test sets."""

    train: Dataset
    val: Dataset | None
    test: Dataset
    num_classes: int


def build_data(recipe: Recipe) -> DataBundle:
    """The recipe's data; the validation split uses evaluation transforms on held-out training images."""
    spec = DataSpec(recipe.dataset, recipe.data_root, recipe.download, synthetic_size=recipe.synthetic_size,
                    image_size=recipe.image_size, bad_images=recipe.bad_images)
    train = build_dataset(spec, "train", augment=recipe.augment, cutout=recipe.cutout, seed=recipe.seed)
    test = build_dataset(spec, "test", augment=False, seed=recipe.seed)
    num_classes = num_classes_of(train)
    val: Dataset | None = None
    if recipe.val_split:
        plain = build_dataset(spec, "train", augment=False, seed=recipe.seed)
        keep, held = holdout_split(len(train), recipe.val_split, recipe.seed)  # type: ignore[arg-type]
        train, val = Subset(train, keep), Subset(plain, held)
    return DataBundle(train, val, test, num_classes)


def build_model(loaded: LoadedGenotype, recipe: Recipe, num_classes: int) -> nn.Module:
    """The stand-alone network of the genotype at the recipe's size (space defaults for unset sizes)."""
    space = loaded.space_obj()
    base = space.default_net_config("train")
    cfg = NetConfig(channels=recipe.channels or base.channels, cells=recipe.cells or base.cells,
                    num_classes=num_classes, auxiliary=recipe.auxiliary_weight > 0, input_size=recipe.image_size)
    model = space.build_network(loaded.genotype, cfg)
    if recipe.drop_path > 0 and not hasattr(model, "drop_path_prob"):
        raise RecipeError(f"the recipe sets drop_path {recipe.drop_path} but {loaded.space} networks have no "
                          "drop-path; pass --drop-path 0 or use the space's own recipe")
    if recipe.auxiliary_weight > 0 and not any("auxiliary" in n for n, _ in model.named_parameters()):
        raise RecipeError(f"the recipe sets auxiliary_weight {recipe.auxiliary_weight} but {loaded.space} networks "
                          "have no auxiliary head; pass --auxiliary-weight 0 or use the space's own recipe")
    return model


def gather_rng(env: DistEnv) -> list[dict[str, Any]]:
    """Every process's RNG states, in rank order (only rank 0 keeps the list)."""
    mine = rng_state()
    if not env.active:
        return [mine]
    states: list[Any] = [None] * env.world
    dist.all_gather_object(states, mine)
    return states


def train(recipe: Recipe, out: str | Path, resume: bool = False, progress: bool = True,
          on_epoch_end: EpochHook | None = None, init_method: str = "env://") -> dict[str, Any]:
    """Train `recipe.genotype` with `recipe` into the run directory `out`; returns result.json's content.

    Under torchrun every process calls this; the process group is joined here (gloo on CPU, NCCL on
    CUDA) and left at the end. `on_epoch_end(epoch)` runs after each epoch's checkpoint.
    """
    if recipe.space is None or recipe.genotype is None:
        raise RecipeError("the recipe names no genotype; pass --genotype RUN_DIR|FILE|STRING")
    loaded = parse_in_space(recipe.space, recipe.genotype)
    paths = RunPaths(Path(out))
    with distributed(recipe.device, init_method) as (env, device):
        if recipe.batch_size % env.world:
            raise RecipeError(f"batch size {recipe.batch_size} does not split over {env.world} processes; "
                              f"choose a multiple of {env.world}")
        folder = RunFolder.open(paths.root, recipe.to_dict(), resume=resume, markers=(paths.recipe.name,),
                                config=paths.recipe.name, free=RESUME_FREE, schema=schema_of(Recipe),
                                writes=env.main, barrier=lambda: barrier(env))
        if folder.finished:
            if env.main:
                log.info("%s already finished; result.json unchanged", paths.root)
            return folder.read_json(paths.result.name)
        return _Run(recipe, loaded, paths, folder, env, device, progress, on_epoch_end).fit()


class _Run:
    """The state of one training run in one process."""

    def __init__(self, recipe: Recipe, loaded: LoadedGenotype, paths: RunPaths, folder: RunFolder, env: DistEnv,
                 device: torch.device, progress: bool, on_epoch_end: EpochHook | None) -> None:
        self.recipe, self.loaded, self.paths, self.env, self.device = recipe, loaded, paths, env, device
        self.folder = folder
        self.progress, self.on_epoch_end = progress and env.main, on_epoch_end
        self.settings = StepSettings(device, recipe.amp, recipe.channels_last, recipe.auxiliary_weight,
                                     recipe.label_smoothing, recipe.grad_clip)

    # ------------------------------------------------------------------ setup
    def _loaders(self, data: DataBundle) -> tuple[DataLoader, DistributedSampler, torch.Generator,
                                                  DataLoader | None, DataLoader]:
        r, env = self.recipe, self.env
        per_rank = r.batch_size // env.world
        sampler: DistributedSampler = DistributedSampler(data.train, num_replicas=env.world, rank=env.rank,
                                                         shuffle=True, seed=r.seed, drop_last=False)
        gen = torch.Generator()
        pin = self.device.type == "cuda"
        # a last batch of one image breaks BatchNorm in training: drop only that case
        train = DataLoader(data.train, batch_size=per_rank, sampler=sampler, num_workers=r.workers, pin_memory=pin,
                           drop_last=len(sampler) % per_rank == 1, generator=gen)
        eval_bs = max(1, (r.eval_batch_size or r.batch_size) // env.world)

        def shard(ds: Dataset) -> DataLoader:
            return DataLoader(ds, batch_size=eval_bs, sampler=ShardSampler(len(ds), env),  # type: ignore[arg-type]
                              num_workers=r.workers, pin_memory=pin)

        return train, sampler, gen, (shard(data.val) if data.val is not None else None), shard(data.test)

    # -------------------------------------------------------------------- run
    def fit(self) -> dict[str, Any]:
        """Train (from the last checkpoint when the folder is resumed), evaluate, write result.json."""
        t_start = time.perf_counter()
        r, env, paths, folder = self.recipe, self.env, self.paths, self.folder
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = r.cudnn_benchmark
        if r.download and env.active and not env.main:
            barrier(env)  # rank 0 downloads first
        data = build_data(r)
        if r.download and env.active and env.main:
            barrier(env)
        seed_all(derive_seed(r.seed, seeds.TRAIN_INIT))  # the same initial weights in every process
        model = build_model(self.loaded, r, data.num_classes).to(self.device)
        if r.channels_last:
            model = model.to(memory_format=torch.channels_last)
        params = count_params(model)
        flops = count_flops(model, r.image_size, self.device)
        opt = build_optimizer(model, r)
        sched = build_schedule(opt, r)
        scaler = make_scaler(self.settings)
        train_loader, sampler, gen, val_loader, test_loader = self._loaders(data)

        start, history, before, best = 0, [], 0.0, None
        ckpt = (load_checkpoint(paths.last, self.device, keys=RESUME_KEYS)
                if folder.resumed and paths.last.is_file() else None)
        if ckpt is not None:
            model.load_state_dict(ckpt["model"])
            opt.load_state_dict(ckpt["optimizer"])
            sched.load_state_dict(ckpt["schedule"])
            scaler.load_state_dict(ckpt["scaler"])
            start, history, before, best = ckpt["epoch"], ckpt["history"], ckpt["seconds"], ckpt["best"]
            if len(ckpt["rng"]) == env.world:
                set_rng_state(ckpt["rng"][env.rank])
            else:
                log.warning("checkpoint from %d processes resumed on %d: data augmentation streams are reseeded, "
                            "so the continuation is not bit-identical", len(ckpt["rng"]), env.world)
                seed_all(derive_seed(r.seed, seeds.TRAIN_STEPS, env.rank, start))
        else:
            seed_all(derive_seed(r.seed, seeds.TRAIN_STEPS, env.rank))

        folder.write_jsonl(paths.metrics.name, history)
        purge = start + 1 if ckpt is not None else None  # on resumption, later events are discarded
        net: nn.Module = model
        if env.active:
            net = DistributedDataParallel(model, device_ids=[self.device.index] if self.device.type == "cuda" else None)
        with folder.logging_to("train.log"), folder.tensorboard(purge) as writer:
            if env.main:
                log.info("train %s (%s) recipe=%s epochs=%d batch=%d lr=%g params=%.3fM flops=%.1fM device=%s "
                         "processes=%d amp=%s channels_last=%s%s", self.loaded.text, self.loaded.space, r.name,
                         r.epochs, r.batch_size, r.effective_lr, params / 1e6, flops / 1e6, self.device, env.world,
                         r.amp, r.channels_last, f" resumed at epoch {start}" if ckpt is not None else "")
            for epoch in range(start, r.epochs):
                row, best = self._epoch(epoch, model, net, opt, sched, scaler, train_loader, sampler, gen,
                                        val_loader, test_loader, best)
                row["seconds"] = before + time.perf_counter() - t_start
                history.append(row)
                rng = gather_rng(env)
                if env.main:
                    atomic_torch_save({
                        "model": model.state_dict(), "optimizer": opt.state_dict(), "schedule": sched.state_dict(),
                        "scaler": scaler.state_dict(), "rng": rng, "epoch": epoch + 1, "history": history,
                        "seconds": row["seconds"], "best": best}, paths.last)
                    folder.write_jsonl(paths.metrics.name, history)
                    self._report(writer, row)
                if self.on_epoch_end is not None:
                    self.on_epoch_end(epoch + 1)
            result = self._result(model, history, params, flops, best, test_loader)
            result["seconds"] = before + time.perf_counter() - t_start
            folder.finish(result)
            if env.main:
                log.info("final epoch %d: test top-1 %.2f%% top-5 %.2f%%, %.0fs", r.epochs, result["test_top1"],
                         result["test_top5"], result["seconds"])
            return result

    def _epoch(self, epoch: int, model: nn.Module, net: nn.Module, opt: torch.optim.Optimizer, sched: Any,
               scaler: torch.amp.GradScaler, train_loader: DataLoader, sampler: DistributedSampler,
               gen: torch.Generator, val_loader: DataLoader | None, test_loader: DataLoader,
               best: dict[str, Any] | None) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """Train one epoch, then evaluate (validation for selection; test for reporting only)."""
        r, env = self.recipe, self.env
        sampler.set_epoch(epoch)
        gen.manual_seed(derive_seed(r.seed, seeds.TRAIN_LOADER, env.rank, epoch))  # worker seeds
        drop = r.drop_path * epoch / r.epochs  # linear ramp (DARTS): 0 in the first epoch
        if hasattr(model, "drop_path_prob"):
            model.drop_path_prob = drop
        lr = opt.param_groups[0]["lr"]
        t0 = time.perf_counter()
        bar = tqdm(train_loader, desc=f"epoch {epoch + 1}/{r.epochs}", disable=not self.progress, leave=False)
        tr = train_one_epoch(net, bar, opt, scaler, self.settings, env)
        seconds = time.perf_counter() - t0
        sched.step()
        broadcast_buffers(model, env)  # evaluate (and checkpoint) rank 0's BN statistics everywhere
        row: dict[str, Any] = {"epoch": epoch + 1, "lr": lr, "drop_path": drop, "train_loss": tr["loss"],
                               "train_top1": tr["top1"], "train_top5": tr["top5"],
                               "train_images_per_second": tr["n"] / seconds if seconds > 0 else float("nan")}
        if val_loader is not None:
            v = evaluate(model, val_loader, self.settings, env)
            row.update(val_loss=v["loss"], val_top1=v["top1"], val_top5=v["top5"])
            if best is None or v["top1"] > best["val_top1"]:
                best = {"epoch": epoch + 1, "val_top1": v["top1"]}
                if env.main:
                    atomic_torch_save({"model": model.state_dict(), **best}, self.paths.best)
        if (epoch + 1) % r.test_every == 0 or epoch + 1 == r.epochs:
            t = evaluate(model, test_loader, self.settings, env)
            row.update(test_loss=t["loss"], test_top1=t["top1"], test_top5=t["top5"])
        return row, best

    def _report(self, writer: Any, row: dict[str, Any]) -> None:
        step = row["epoch"]
        for key, value in row.items():
            if key != "epoch" and isinstance(value, (int, float)):
                group, _, name = key.partition("_")
                writer.add_scalar(f"{group}/{name}" if name else group, value, step)
        writer.flush()
        log.info("epoch %d/%d lr %.4g train loss %.4f top-1 %.2f%%%s%s", step, self.recipe.epochs, row["lr"],
                 row["train_loss"], row["train_top1"],
                 f" val top-1 {row['val_top1']:.2f}%" if "val_top1" in row else "",
                 f" test top-1 {row['test_top1']:.2f}%" if "test_top1" in row else "")

    def _result(self, model: nn.Module, history: list[dict[str, Any]], params: int, flops: int,
                best: dict[str, Any] | None, test_loader: DataLoader) -> dict[str, Any]:
        r, last = self.recipe, history[-1]
        rates = [h["train_images_per_second"] for h in history]
        result: dict[str, Any] = {
            "space": self.loaded.space, "genotype": self.loaded.text,
            "genotype_json": self.loaded.space_obj().genotype_to_json(self.loaded.genotype),
            "recipe": r.name, "dataset": r.dataset, "epochs": r.epochs,
            "test_top1": last["test_top1"], "test_top5": last["test_top5"], "test_loss": last["test_loss"],
            "train_loss": last["train_loss"], "train_top1": last["train_top1"],
            "params": params, "params_m": params / 1e6, "flops": flops, "macs": flops // 2,
            "image_size": r.image_size, "batch_size": r.batch_size, "lr": r.effective_lr,
            "processes": self.env.world, "device": str(self.device), "amp": r.amp, "channels_last": r.channels_last,
            "train_images_per_second": sum(rates) / len(rates), "seed": r.seed,
        }
        if best is not None:
            barrier(self.env)  # best.pt is complete on disk
            state = load_checkpoint(self.paths.best, self.device, "best checkpoint",
                                    "train the run again (best.pt is rewritten whenever validation improves)")
            model.load_state_dict(state["model"])
            t = evaluate(model, test_loader, self.settings, self.env)
            result["selection"] = {"on": "val_top1", "epoch": best["epoch"], "val_top1": best["val_top1"],
                                   "test_top1": t["top1"], "test_top5": t["top5"]}
        return result
