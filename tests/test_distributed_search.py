"""Proposal iterations spread over 2 gloo processes give exactly the sequential run's result."""
import json
import os
import socket

import torch.multiprocessing as mp

from search.config import SearchConfig
from search.run import run_search

TINY = dict(space="nb201", dataset="synthetic", channels=4, cells=1, val_channels=4, val_cells=1,
            batch_size=8, iterations=3, validation_batches=2, seed=4, device="cpu")


def _worker(rank: int, world: int, port: int, out: str) -> None:
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    import torch
    torch.set_num_threads(1)
    run_search(SearchConfig(**TINY).validate(), out, progress=False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_workers_match_sequential(tmp_path):
    import torch
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the same kernels as the workers, so results agree bit for bit
    try:
        seq = run_search(SearchConfig(**TINY).validate(), tmp_path / "seq", progress=False)
    finally:
        torch.set_num_threads(threads)
    mp.spawn(_worker, args=(2, _free_port(), str(tmp_path / "dist")), nprocs=2, join=True)
    dist = json.loads((tmp_path / "dist" / "result.json").read_text())
    assert dist["workers"] == 2 and seq["workers"] == 1
    assert dist["genotype"] == seq["genotype"]
    assert dist["validation_score"] == seq["validation_score"]
    strip = lambda p: [{k: v for k, v in q.items() if k != "seconds"} for q in json.loads(p.read_text())]
    assert strip(tmp_path / "dist" / "proposals.json") == strip(tmp_path / "seq" / "proposals.json")
    assert (tmp_path / "dist" / "decisions.jsonl").read_text() == (tmp_path / "seq" / "decisions.jsonl").read_text()
