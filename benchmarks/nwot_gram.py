"""nwot's code Gram C C^T on this machine: the float32 matmul nwot uses against an int8 matmul with int32 sums
(`torch._int_mm`), on the code shapes of the NB201 supernet's ReLU inputs (C=16, 32x32 images: 16, 32, 64
channels at 32, 16, 8 pixels). Medians of interleaved repeats; a ratio above 1 means int8 is slower.

    OMP_NUM_THREADS=2 python benchmarks/nwot_gram.py
    OMP_NUM_THREADS=2 python benchmarks/nwot_gram.py --batch-size 256 --repeats 50
"""
from __future__ import annotations

import argparse

import torch

from interleaved import interleaved_medians  # benchmarks/interleaved.py, beside this script
from scoring.proxies.nwot import code_gram


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--repeats", type=int, default=20)
    args = p.parse_args()
    if args.batch_size < 2 or args.repeats < 1:
        raise SystemExit(f"error: --batch-size must be at least 2 and --repeats at least 1, got {args.batch_size} "
                         f"and {args.repeats}; pass larger counts")
    print(f"torch {torch.__version__}, CPU capability {torch.backends.cpu.get_cpu_capability()}, "
          f"{torch.get_num_threads()} threads, batch {args.batch_size}, median of {args.repeats}")
    for units in (16 * 32 * 32, 32 * 16 * 16, 64 * 8 * 8):
        torch.manual_seed(0)
        x = torch.randn(args.batch_size, units)
        codes = torch.gt(x, 0).view(torch.int8)
        int8 = lambda: torch._int_mm(codes, codes.t())  # noqa: E731
        try:
            exact = torch.equal(int8().double(), (x > 0).double() @ (x > 0).double().T)
        except (AttributeError, RuntimeError, NotImplementedError) as e:
            print(f"{units:6d} units: torch._int_mm cannot run here ({type(e).__name__})")
            continue
        medians = interleaved_medians({"float32": lambda: code_gram(x), "int8": int8}, args.repeats)
        ma, mb = medians["float32"], medians["int8"]
        print(f"{units:6d} units: code_gram (float32) {ma * 1e3:8.3f} ms   int8 _int_mm {mb * 1e3:8.3f} ms   "
              f"int8 / float32 {mb / ma:6.2f}x   int8 exact: {exact}")


if __name__ == "__main__":
    main()
