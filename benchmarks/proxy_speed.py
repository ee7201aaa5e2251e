"""Time per evaluation of every registered proxy on the NB201 supernet A_0 (the cost zc-pt and disc-zc
pay per perturbation), on the current device. Median of several evaluations after a warm-up, each
inside one proxy session on a perturbed state (one op removed), as the scorers use them.

    python benchmarks/proxy_speed.py                              # all proxies, batch 64, C=16, 5 cells
    python benchmarks/proxy_speed.py --proxies nwot,synflow --repeats 5
    python benchmarks/proxy_speed.py --channels 4 --cells 1 --batch-size 8 --repeats 1   # smoke test
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

from scoring.proxies import PROXIES, get_proxy
from runtime.device import resolve_device
from supernet.spaces import get_space
from supernet.spaces.space import NetConfig


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--proxies", default="all", help="comma list or 'all'")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--channels", type=int, default=16)
    p.add_argument("--cells", type=int, default=5)
    p.add_argument("--image-size", type=int, default=32)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--bn-mode", choices=["batch", "eval"], default="batch")
    p.add_argument("--device", default="auto")
    args = p.parse_args()

    names = PROXIES.names() if args.proxies == "all" else [n.strip() for n in args.proxies.split(",")]
    device = resolve_device(args.device)
    space = get_space("nb201")
    state = space.new_state()
    torch.manual_seed(0)
    supernet = space.build_supernet(state, NetConfig(channels=args.channels, cells=args.cells)).to(device)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(args.batch_size, 3, args.image_size, args.image_size, generator=g).to(device)
    y = torch.randint(0, 10, (args.batch_size,), generator=g).to(device)
    edge = state.edge_ids()[0]
    print(f"device {device}, NB201 supernet C={args.channels} cells={args.cells}, batch {args.batch_size}, "
          f"BN {args.bn_mode}, median of {args.repeats} after 1 warm-up")
    print(f"{'proxy':<12} {'ms/eval':>10}")
    for name in names:
        proxy = get_proxy(name, bn_mode=args.bn_mode)
        with proxy.session(supernet) as ev, state.perturb(edge, "nor_conv_3x3"):
            ev(x, y)
            times = []
            for _ in range(args.repeats):
                if device.type == "cuda":
                    torch.cuda.synchronize(device)
                t = time.perf_counter()
                ev(x, y)
                if device.type == "cuda":
                    torch.cuda.synchronize(device)
                times.append(time.perf_counter() - t)
        print(f"{name:<12} {1000 * statistics.median(times):>10.1f}")


if __name__ == "__main__":
    main()
