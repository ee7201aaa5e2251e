"""nwot on the untrained supernet A_0 under several mixing rules: is the kernel well-conditioned (finite
log-det, its spread over batches), and do the rules rank the ops of an edge alike under zc-pt?

For each rule the supernet is built exactly as a search builds it (seed stream SUPERNET_INIT, BN on
running statistics), nwot is scored on K minibatches, then every op of the chosen edges is scored as
S(A - (e,o)) on one shared minibatch (zc-pt keeps the argmin). Prints one JSON object.

    python benchmarks/mixing_nwot.py --space mobilenet --rules sum,uniform --edges layer:1,layer:4,layer:10 \
        --dataset imagefolder --data-root ../shared/data/cifar10-subset/train --batch-size 64 --batches 2
"""
from __future__ import annotations

import argparse
import json
import math
import time

import torch
from scipy.stats import spearmanr

from runtime.seeds import SUPERNET_INIT, derive_seed
from scoring.proxies import get_proxy
from search.batches import BatchStream
from supernet.spaces import get_space
from supernet.spaces.space import NetConfig
from runtime.data import DataSpec, build_dataset, image_side, num_classes_of


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--space", default="mobilenet")
    p.add_argument("--rules", default="sum,uniform")
    p.add_argument("--edges", default="layer:1,layer:4,layer:10")
    p.add_argument("--dataset", default="imagefolder")
    p.add_argument("--data-root")
    p.add_argument("--image-size", type=int, default=32)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--batches", type=int, default=2)
    p.add_argument("--channels", type=int)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    torch.set_num_threads(torch.get_num_threads())
    space = get_space(a.space)
    data = build_dataset(DataSpec(a.dataset, a.data_root, image_size=a.image_size), "train", seed=a.seed)
    batches = BatchStream(data, a.batch_size, a.seed, channels_last=True).take(a.batches + 1)
    proxy = get_proxy("nwot", bn_mode="eval")
    out: dict = {"space": a.space, "image_size": image_side(data), "batch_size": a.batch_size, "rules": {}}
    for rule in a.rules.split(","):
        state = space.new_state()
        base = space.default_net_config("supernet")
        cfg = NetConfig(channels=a.channels or base.channels, cells=base.cells, num_classes=num_classes_of(data),
                        mixing=rule, input_size=image_side(data))
        torch.manual_seed(derive_seed(a.seed, SUPERNET_INIT))
        net = space.build_supernet(state, cfg).to(memory_format=torch.channels_last)
        t0 = time.perf_counter()
        row: dict = {"edges": {}}
        with proxy.session(net) as ev:
            logdets = [ev(x, y) for x, y in batches[:a.batches]]
            row["a0_logdet"] = logdets
            row["finite"] = all(math.isfinite(v) for v in logdets)
            x, y = batches[-1]
            for e in a.edges.split(","):
                scores = {}
                for o in state.active(e):
                    with state.perturb(e, o):
                        scores[o] = ev(x, y)
                row["edges"][e] = {"scores": scores, "zc_pt_keeps": min(scores, key=scores.get)}
        row["seconds"] = time.perf_counter() - t0
        out["rules"][rule] = row
        print(json.dumps({rule: row}), flush=True)
    rules = list(out["rules"])
    if len(rules) == 2:
        r0, r1 = (out["rules"][r]["edges"] for r in rules)
        out["spearman_per_edge"] = {e: float(spearmanr(list(r0[e]["scores"].values()),
                                                       list(r1[e]["scores"].values())).statistic) for e in r0}
        out["same_choice"] = {e: r0[e]["zc_pt_keeps"] == r1[e]["zc_pt_keeps"] for e in r0}
    print(json.dumps({k: v for k, v in out.items() if k != "rules"}))


if __name__ == "__main__":
    main()
