"""Our Zero-Cost-PT proposal iteration side by side with another implementation's, given as a shell command.

Each repeat runs ours (a fresh process timing `--iterations` proposal iterations in-process, after loading data
and building the supernet) and then the other command, interleaved so both see the same machine load. The other
command's time is its wall time divided by --theirs-iterations, or, with --theirs-regex, the per-iteration seconds
it prints (the regex's first group). Prints medians (min-max) and the ratio theirs/ours.

    OMP_NUM_THREADS=2 python benchmarks/proposal_vs.py --space nb201 --batch-size 64 --repeats 5 \\
        --data-root ../shared/data/cifar10-subset/train \\
        --theirs "cd ~/zero-cost-pt && python nasbench201/zc_pt.py --batch_size 64 ..." \\
        --theirs-regex "iteration took ([0-9.]+) s"

Without --theirs it times ours alone. Set OMP_NUM_THREADS for both (it is inherited) and keep the machine quiet.
"""
from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import time

_OURS = "ours-seconds:"


def ours_once(args: argparse.Namespace) -> None:
    """Child process: build, warm up with one forward, time `--iterations` proposal iterations; print each."""
    import torch

    from runtime.device import resolve_device
    from search.batches import BatchStream
    from search.plugins import search_config
    from search.factory import build_scoring, scoring_settings
    from search.proposals import DecisionLog, propose
    from supernet.spaces import get_space
    from runtime.data import DataSpec, build_dataset

    if args.allocator == "retain":
        from runtime.allocator import retain_freed_memory  # here: older checkouts timed with --theirs lack it
        retain_freed_memory()
    device = resolve_device(args.device)
    cfg = search_config(space=args.space, batch_size=args.batch_size, seed=args.seed, device=str(device),
                       dataset="imagefolder" if args.data_root else "synthetic", data_root=args.data_root,
                       proxy=args.proxy, order=args.order, batched=args.batched, image_size=args.image_size)
    space = get_space(args.space)
    dataset = build_dataset(DataSpec(cfg.dataset, cfg.data_root, synthetic_size=max(4 * args.batch_size, 512),
                                     image_size=args.image_size or 32), "train")
    state, supernet, scorer, proxy = build_scoring(scoring_settings(cfg), space, device, 10, args.image_size or 32)
    a0 = state.snapshot()
    with scorer.session():
        for i in range(args.iterations):
            stream = BatchStream(dataset, args.batch_size, args.seed + i, device, cfg.channels_last)
            if device.type == "cuda":
                torch.cuda.synchronize()
            t = time.perf_counter()
            propose(space, scorer, state, a0, args.order, stream, args.seed, i, DecisionLog())
            if device.type == "cuda":
                torch.cuda.synchronize()
            print(f"{_OURS} {time.perf_counter() - t:.4f}", flush=True)
            state.restore(a0)


def _run(cmd: list[str] | str, shell: bool) -> tuple[float, str]:
    t = time.perf_counter()
    out = subprocess.run(cmd, shell=shell, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if out.returncode != 0:
        tail = (out.stderr or out.stdout).strip().splitlines()[-1:] or ["(no output)"]
        raise SystemExit(f"proposal_vs: {cmd if shell else 'our iteration'} exited {out.returncode}: {tail[0]}")
    return wall, out.stdout + out.stderr


def _summary(times: list[float]) -> str:
    return f"{statistics.median(times):8.2f} s  ({min(times):.2f}-{max(times):.2f}, {len(times)} values)"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--space", default="nb201")
    ap.add_argument("--proxy", default="nwot")
    ap.add_argument("--order", default="random")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--image-size", type=int, default=None)
    ap.add_argument("--data-root", help="image folder (default: synthetic images)")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--batched", action=argparse.BooleanOptionalAction, default=None)
    ap.add_argument("--allocator", choices=("retain", "system"), default="retain")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--iterations", type=int, default=2, help="our iterations per repeat (each one timed)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--theirs", help="shell command running the other implementation's proposal iteration(s)")
    ap.add_argument("--theirs-regex", help="regex whose first group is a per-iteration time in seconds it prints")
    ap.add_argument("--theirs-iterations", type=int, default=1, help="iterations one run of --theirs does")
    ap.add_argument("--ours-once", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.ours_once:
        ours_once(args)
        return
    if args.theirs_regex is not None and args.theirs is None:
        raise SystemExit("proposal_vs: --theirs-regex needs --theirs (the command whose output it reads)")

    child = [sys.executable, __file__, "--ours-once"] + [a for a in sys.argv[1:] if a != "--ours-once"]
    child = _strip(child, ("--theirs", "--theirs-regex", "--theirs-iterations", "--repeats"))
    ours: list[float] = []
    theirs: list[float] = []
    for r in range(args.repeats):
        _, out = _run(child, shell=False)
        ours += [float(line.split()[1]) for line in out.splitlines() if line.startswith(_OURS)]
        if args.theirs:
            wall, out = _run(args.theirs, shell=True)
            if args.theirs_regex:
                found = [float(m) for m in re.findall(args.theirs_regex, out)]
                if not found:
                    raise SystemExit(f"proposal_vs: --theirs-regex {args.theirs_regex!r} matched nothing in its output")
                theirs += found
            else:
                theirs.append(wall / args.theirs_iterations)
        print(f"repeat {r + 1}/{args.repeats}: ours {ours[-1]:.2f} s" +
              (f", theirs {theirs[-1]:.2f} s" if theirs else ""), flush=True)
    print(f"{args.space}, {args.proxy}, {args.order} order, batch {args.batch_size}: one proposal iteration")
    print(f"  ours    {_summary(ours)}")
    if theirs:
        print(f"  theirs  {_summary(theirs)}")
        print(f"  theirs / ours = {statistics.median(theirs) / statistics.median(ours):.2f}x (medians)")


def _strip(argv: list[str], options: tuple[str, ...]) -> list[str]:
    """`argv` without the given options and their values (the child times ours only)."""
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
            continue
        name = a.split("=", 1)[0]
        if name in options:
            skip = "=" not in a
            continue
        out.append(a)
    return out


if __name__ == "__main__":
    main()
