"""FactorizedReduce, measured: DARTS' formula (stride-2 1x1 convs of x and of x shifted and padded) against ours
(1x1 convs of the even and the odd pixel grids; the same sums), forward + backward, interleaved.

Shapes are those of the DARTS search supernet at C=16, 8 cells (preprocess after a reduction cell, the reduce
cells' skip_connect). Prints the median of each and the ratio DARTS/ours (above 1: ours is faster).

    OMP_NUM_THREADS=2 python benchmarks/factorized_reduce.py
    python benchmarks/factorized_reduce.py --batch-size 4 --repeats 3      # smoke test
"""
from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F

from interleaved import interleaved_medians  # benchmarks/interleaved.py, beside this script
from supernet.spaces.darts_ops import FactorizedReduce

# (c_in, c_out, input size) in the DARTS search supernet at C=16 (reductions at cells 2 and 5)
SHAPES = [(64, 32, 32), (32, 32, 32), (128, 64, 16), (64, 64, 16)]


def darts_formula(fr: FactorizedReduce, x: torch.Tensor) -> torch.Tensor:
    """DARTS' FactorizedReduce (Liu et al. 2019 code): stride-2 convs of relu(x) and its one-pixel shift."""
    r = torch.relu(x)
    shifted = F.pad(r[:, :, 1:, 1:], (0, 1, 0, 1))
    return fr.bn(torch.cat([F.conv2d(r, fr.conv_1.weight, stride=2), F.conv2d(shifted, fr.conv_2.weight, stride=2)],
                           dim=1))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--repeats", type=int, default=15)
    args = p.parse_args()
    if args.batch_size < 1 or args.repeats < 1:
        raise SystemExit(f"error: --batch-size and --repeats must be at least 1, got {args.batch_size} and "
                         f"{args.repeats}; pass positive counts")
    torch.manual_seed(0)
    for c_in, c_out, size in SHAPES:
        for fmt, mem in (("nchw", torch.contiguous_format), ("channels_last", torch.channels_last)):
            fr = FactorizedReduce(c_in, c_out, affine=False).to(memory_format=mem)
            x = torch.randn(args.batch_size, c_in, size, size).to(memory_format=mem).requires_grad_()
            runs = {"darts": lambda: darts_formula(fr, x).sum().backward(), "ours": lambda: fr(x).sum().backward()}
            medians = interleaved_medians(runs, args.repeats)
            d, o = medians["darts"] * 1e3, medians["ours"] * 1e3
            print(f"c_in={c_in:3d} c_out={c_out:3d} {size}x{size} {fmt:13s} darts {d:7.2f} ms  ours {o:7.2f} ms  "
                  f"darts/ours {d / o:.2f}")


if __name__ == "__main__":
    main()
