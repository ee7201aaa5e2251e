"""Training-step throughput (images/second) of a recipe's stand-alone network on the current device, in
each precision and memory format asked for: the step `opscore train` runs (forward under the recipe's
autocast, label-smoothed loss, backward, SGD step), fed one resident synthetic batch so the data loader is
not what is measured. Medians of several timed windows after warm-up.

    python benchmarks/train_step.py --recipe imagenet-mobilenet --genotype k7e6 --batch-size 256
    python benchmarks/train_step.py --recipe cifar10-darts --genotype DARTS_V2 --modes none/contiguous
"""
from __future__ import annotations

import argparse
import itertools
import logging
import statistics
import time

import torch

from runtime.distributed import DistEnv
from train_final.genotypes import load_genotype
from train_final.loop import StepSettings, make_scaler, train_one_epoch
from train_final.metrics import count_flops, count_params
from train_final.recipe import load_recipe
from train_final.train_run import build_model
from train_final.schedules import build_optimizer
from runtime.device import resolve_device
from supernet.spaces.mobilenet import LAYERS, MB_OPS

MODES = ("none/contiguous", "none/channels-last", "bf16/contiguous", "bf16/channels-last")


def parse_mode(text: str) -> tuple[str, bool]:
    """'AMP/LAYOUT' -> (amp, channels_last)."""
    amp, _, layout = text.partition("/")
    if amp not in ("none", "bf16", "fp16") or layout not in ("contiguous", "channels-last"):
        raise SystemExit(f"error: mode {text!r} is not AMP/LAYOUT with AMP none|bf16|fp16 and LAYOUT "
                         "contiguous|channels-last")
    return amp, layout == "channels-last"


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def images_per_second(args: argparse.Namespace, genotype: str, amp: str, channels_last: bool,
                      device: torch.device) -> tuple[float, float, int, int]:
    """(median images/s, peak GiB, params, forward FLOPs per image) of the training step in one mode."""
    loaded = load_genotype(genotype, args.space)
    recipe = load_recipe(args.recipe, {"space": loaded.space, "genotype": loaded.text, "amp": amp,
                                       "channels_last": channels_last, "batch_size": args.batch_size})
    size = args.image_size or recipe.image_size or 32
    torch.manual_seed(0)
    model = build_model(loaded, recipe, args.num_classes).to(device)
    flops = count_flops(model, size, device) if args.flops else 0
    params = count_params(model)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    opt = build_optimizer(model, recipe)
    s = StepSettings(device, amp, channels_last, recipe.auxiliary_weight, recipe.label_smoothing, recipe.grad_clip)
    scaler = make_scaler(s)
    x = torch.randn(args.batch_size, 3, size, size, device=device)
    y = torch.randint(0, args.num_classes, (args.batch_size,), device=device)
    env = DistEnv(rank=0, world=1, local_rank=0)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    train_one_epoch(model, itertools.repeat((x, y), args.warmup), opt, scaler, s, env)
    rates = []
    for _ in range(args.repeats):
        sync(device)
        t = time.perf_counter()
        train_one_epoch(model, itertools.repeat((x, y), args.steps), opt, scaler, s, env)
        sync(device)
        rates.append(args.steps * args.batch_size / (time.perf_counter() - t))
    peak = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else 0.0
    return statistics.median(rates), peak, params, flops


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--recipe", default="imagenet-mobilenet", help="recipe name or YAML file")
    ap.add_argument("--genotype", default="k7e6", help="genotype text, file or run directory; for the "
                    "mobilenet space a single token means that block on every layer")
    ap.add_argument("--space", default=None, help="space of the genotype (detected when omitted)")
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--image-size", type=int, default=0, help="default: the recipe's")
    ap.add_argument("--num-classes", type=int, default=1000)
    ap.add_argument("--steps", type=int, default=10, help="training steps per timed window")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--modes", default=",".join(MODES), help="comma list of AMP/LAYOUT")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--flops", action=argparse.BooleanOptionalAction, default=True,
                    help="count forward FLOPs to report achieved TFLOP/s (training step ~ 3x forward)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    device = resolve_device(args.device)
    torch.backends.cudnn.benchmark = True
    genotype = ",".join([args.genotype] * len(LAYERS)) if args.genotype in MB_OPS else args.genotype
    print(f"device {device}" + (f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else "")
          + f", torch {torch.__version__}, recipe {args.recipe}, batch {args.batch_size}")
    for mode in args.modes.split(","):
        amp, cl = parse_mode(mode.strip())
        rate, peak, params, flops = images_per_second(args, genotype, amp, cl, device)
        compute = (f"~{3 * flops * rate / 1e12:6.1f} TFLOP/s (3x forward, {flops / 1e9:.2f} GFLOPs/image)"
                   if flops else "(FLOPs not counted: --no-flops)")
        memory = f"peak {peak:.2f} GiB" if device.type == "cuda" else ""
        print(f"{mode:20s} {rate:9.1f} images/s  {compute}  {memory}  params {params:,}")


if __name__ == "__main__":
    from search.cli.errors import exit_on_user_error
    exit_on_user_error(main)
