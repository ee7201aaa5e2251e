"""Horizontal fusion, measured: k convolutions reading one input against one convolution with k times the outputs.

In an NB201 cell the 3x3 (or 1x1) convolutions of the edges leaving a node read the same tensor; on a GPU one wide
convolution beats many narrow ones, on this CPU the narrow ones already run at the matmul rate. Prints medians
and the ratio fused/separate per shape (below 1: fusion pays).

    OMP_NUM_THREADS=2 python benchmarks/conv_fusion.py --batch-sizes 64,256
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F


def median_ms(fn, repeats: int = 20, warmup: int = 3) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1e3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch-sizes", default="64,256")
    ap.add_argument("--edges", type=int, default=3, help="convolutions reading the same input (NB201 node 0: 3)")
    args = ap.parse_args()
    torch.set_grad_enabled(False)
    print(f"{torch.get_num_threads()} threads; {args.edges} convolutions on one input, channels-last")
    for batch in (int(b) for b in args.batch_sizes.split(",")):
        for channels, side in ((16, 32), (32, 16), (64, 8)):
            x = torch.randn(batch, channels, side, side).contiguous(memory_format=torch.channels_last)
            for k in (3, 1):
                ws = [torch.randn(channels, channels, k, k) for _ in range(args.edges)]
                wide = torch.cat(ws)
                sep = median_ms(lambda: [F.conv2d(x, w, padding=k // 2) for w in ws])
                fused = median_ms(lambda: F.conv2d(x, wide, padding=k // 2).split(channels, dim=1))
                print(f"batch {batch:4d}  {channels:3d} ch {side:2d}x{side:<2d} {k}x{k}: separate {sep:7.2f} ms, "
                      f"fused {fused:7.2f} ms, fused/separate {fused / sep:.2f}")


if __name__ == "__main__":
    main()
