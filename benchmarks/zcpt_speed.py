"""Zero-Cost-PT speed on the current device: bare supernet forward, one nwot evaluation of a perturbed
supernet, one full proposal iteration, the validation stage per candidate, achieved GFLOP/s against
the device's matmul GFLOP/s, and peak memory. Medians of several runs after warm-up. Validation is timed
on real candidates: the genotypes the timed proposal iterations chose (sampled ones with --no-iteration).

    python benchmarks/zcpt_speed.py --space nb201 --batch-size 64
    python benchmarks/zcpt_speed.py --space darts --batch-size 64 --repeats 3
    python benchmarks/zcpt_speed.py --space nb201 --batch-size 256 --repeats 1   # memory at batch 256
"""
from __future__ import annotations

import argparse
import resource
import statistics
import time
from typing import Callable

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from runtime.allocator import retain_freed_memory
from search.batches import BatchStream
from search.plugins import search_config
from runtime.device import resolve_device
from search.factory import build_scoring, scoring_settings
from search.validators import VALIDATORS, ValidationContext, ValidatorSettings
from search.proposals import DecisionLog, propose
from supernet.spaces import get_space
from supernet.spaces.space import NetConfig
from runtime.data import DataSpec, build_dataset


def median_time(fn: Callable[[], object], repeats: int, warmup: int, device: torch.device) -> float:
    """Median wall time of `fn` over `repeats` runs after `warmup` runs."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def matmul_gflops(device: torch.device, n: int = 2048) -> float:
    """The device's float32 matmul throughput (what 'peak' means here)."""
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    t = median_time(lambda: a @ b, 5, 2, device)
    return 2 * n**3 / t / 1e9


def peak_memory_gb(device: torch.device) -> float:
    """Peak memory of this process: CUDA allocator peak, or the CPU resident-set peak."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**30
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--space", default="nb201")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--image-size", type=int, default=32, help="side of the (synthetic or resized) images")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--validation-batches", type=int, default=100, help="V for the per-candidate validation time")
    ap.add_argument("--candidates", type=int, default=3,
                    help="real candidates timed in validation (proposed by the timed iterations, else sampled)")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=True)
    ap.add_argument("--data-root", help="image folder (default: synthetic images)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--iteration", action=argparse.BooleanOptionalAction, default=True,
                    help="time a full proposal iteration (long on CPU for darts)")
    ap.add_argument("--batched", action=argparse.BooleanOptionalAction, default=None,
                    help="grouped forward of an edge's perturbations (default: the search's, on with CUDA)")
    ap.add_argument("--allocator", choices=("retain", "system"), default="retain",
                    help="as opscore's --allocator: retain freed memory (its default) or the C library's defaults")
    ap.add_argument("--cudnn-benchmark", action=argparse.BooleanOptionalAction, default=False,
                    help="let cuDNN time its convolution algorithms per shape (CUDA only; the search leaves it off)")
    args = ap.parse_args()
    torch.backends.cudnn.benchmark = args.cudnn_benchmark
    if args.allocator == "retain":
        retain_freed_memory()

    device = resolve_device(args.device)
    cfg = search_config(space=args.space, batch_size=args.batch_size, seed=args.seed, device=str(device),
                       channels_last=args.channels_last, dataset="imagefolder" if args.data_root else "synthetic",
                       data_root=args.data_root, batched=args.batched, image_size=args.image_size)
    space = get_space(args.space)
    dataset = build_dataset(DataSpec(cfg.dataset, cfg.data_root, synthetic_size=max(4 * args.batch_size, 512),
                                     image_size=args.image_size), "train")
    state, supernet, scorer, proxy = build_scoring(scoring_settings(cfg), space, device, 10, args.image_size)
    stream = BatchStream(dataset, args.batch_size, args.seed, device, args.channels_last)
    x, y = stream.next()
    print(f"device: {device} ({torch.get_num_threads()} CPU threads), space {args.space}, batch {args.batch_size}, "
          f"{args.image_size} px, "
          f"channels_last={args.channels_last}, allocator {args.allocator}, torch {torch.__version__}")

    with proxy.forward_mode(supernet), torch.no_grad():  # the proxy's BN mode (and BN folding where it folds)
        with FlopCounterMode(display=False) as fc:
            supernet(x)
        flops = fc.get_total_flops()
        t_fwd = median_time(lambda: supernet(x), args.repeats, args.warmup, device)

    edge = state.edge_ids()[0]
    op = state.active(edge)[-1]
    with proxy.session(supernet) as ev:
        def one_eval() -> float:
            with state.perturb(edge, op):
                return ev(x, y)
        t_eval = median_time(one_eval, args.repeats, args.warmup, device)

    a0 = state.snapshot()
    log = DecisionLog()
    counter = iter(range(10**6))
    evals, proposed = [], []

    def one_iteration() -> None:
        i = next(counter)
        s = BatchStream(dataset, args.batch_size, args.seed + i, device, args.channels_last)
        p = propose(space, scorer, state, a0, "random", s, args.seed, i, log)
        evals.append(p.evaluations + p.topology_evaluations)
        proposed.append(p.genotype)

    if args.iteration:
        with scorer.session():
            t_iter = median_time(one_iteration, max(1, args.repeats // 2), 0, device)
        n_eval = evals[-1]
    state.restore(a0)

    # real candidates: the genotypes the timed iterations proposed (else sampled ones), each on its own batches
    rng = np.random.default_rng(args.seed)
    candidates = list(dict.fromkeys(proposed))[:args.candidates]
    candidates += [space.format_genotype(space.sample(rng)) for _ in range(args.candidates - len(candidates))]
    base = space.default_net_config("validation")
    batches = [stream.next() for _ in range(min(args.validation_batches, 10))]
    vctx = ValidationContext(space, dataset, 10, NetConfig(base.channels, base.cells, 10, input_size=args.image_size),
                             device, args.seed,
                             args.batch_size, args.channels_last, proxy, batches)
    validator = VALIDATORS.create("proxy", settings=ValidatorSettings())
    validator.score(vctx, candidates[0])  # warm-up
    t_val = statistics.median(median_time(lambda: validator.score(vctx, g), 1, 0, device) for g in candidates)
    t_val = t_val / len(batches) * args.validation_batches

    peak = matmul_gflops(device)
    rows = [
        (f"bare supernet forward (no autograd, BN {proxy.bn_mode})", f"{t_fwd:.3f} s", f"{flops / t_fwd / 1e9:.1f} GFLOP/s "
                                                                 f"({flops / 1e9:.1f} GFLOP per forward)"),
        ("nwot evaluation of a perturbed supernet", f"{t_eval:.3f} s", f"{t_eval / t_fwd:.2f}x a bare forward"),
        (f"proposal iteration ({n_eval} evaluations)", f"{t_iter:.2f} s",
         f"{t_iter / (n_eval * t_fwd):.2f}x {n_eval} bare forwards") if args.iteration else
        ("proposal iteration", "not timed", "(--no-iteration)"),
        (f"validation per candidate (V={args.validation_batches})", f"{t_val:.2f} s",
         f"median of {len(candidates)} {'proposed' if proposed else 'sampled'} candidates, "
         f"extrapolated from {len(batches)} batches"),
        ("device matmul throughput", f"{peak:.1f} GFLOP/s", f"forward achieves {100 * flops / t_fwd / 1e9 / peak:.0f}%"),
        ("peak memory (process)", f"{peak_memory_gb(device):.2f} GB", ""),
    ]
    width = max(len(r[0]) for r in rows)
    for name, value, note in rows:
        print(f"{name:<{width}}  {value:>14}  {note}")



if __name__ == "__main__":
    from search.cli.errors import exit_on_user_error
    exit_on_user_error(main)
