"""Proposal iterations spread over 2 gloo processes give exactly the sequential run's result."""
import json
import os
import socket

import pytest
import torch.multiprocessing as mp

from search.plugins import search_config
from search.search_run import run_search

TINY = dict(space="nb201", dataset="synthetic", channels=4, cells=1, val_channels=4, val_cells=1,
            batch_size=8, iterations=3, validation_batches=2, seed=4, device="cpu")


def _worker(rank: int, world: int, port: int, out: str, extra: dict | None = None) -> None:
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    import torch
    torch.set_num_threads(1)
    run_search(search_config(**{**TINY, **(extra or {})}).validate(), out, progress=False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# FEAR: its early rejection compares with the candidates before; spread over ranks, each is scored as if first
# and the rule applied afterwards in candidate order (threshold and ratio chosen so that some are rejected)
# (stage-1 steps of the 4 candidates on their own: 2, 8, 2, 13; rank 1 alone would keep the second)
FEAR = dict(validator="fear", fear_threshold=0.15, fear_reject_ratio=1.0, val_epochs=2, val_steps_per_epoch=10,
            fear_window=2, fear_stage2_steps=1, iterations=4)


@pytest.mark.slow
@pytest.mark.parametrize("extra", [{}, FEAR], ids=["proxy", "fear"])
def test_two_workers_match_sequential(tmp_path, extra):
    import torch
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the same kernels as the workers, so results agree bit for bit
    try:
        seq = run_search(search_config(**{**TINY, **extra}).validate(), tmp_path / "seq", progress=False)
    finally:
        torch.set_num_threads(threads)
    mp.spawn(_worker, args=(2, _free_port(), str(tmp_path / "dist"), extra), nprocs=2, join=True)
    dist = json.loads((tmp_path / "dist" / "result.json").read_text())
    assert dist["workers"] == 2 and seq["workers"] == 1
    assert dist["genotype"] == seq["genotype"]
    assert dist["validation_score"] == seq["validation_score"]
    strip = lambda p: [{k: v for k, v in q.items() if k != "seconds"} for q in json.loads(p.read_text())]
    assert strip(tmp_path / "dist" / "proposals.json") == strip(tmp_path / "seq" / "proposals.json")
    assert (tmp_path / "dist" / "decisions.jsonl").read_text() == (tmp_path / "seq" / "decisions.jsonl").read_text()
    cands = lambda run: [(c["genotype"], c["validation_score"]) for c in  # noqa: E731
                         json.loads((tmp_path / run / "candidates.json").read_text())]
    assert cands("dist") == cands("seq")
    if extra:
        reasons = [d.get("reason", "") for d in
                   json.loads((tmp_path / "seq" / "validation.json").read_text())["details"].values()]
        assert any("x the fastest" in r for r in reasons), reasons  # the order-dependent rule was exercised


def test_backend_follows_the_search_device_not_the_machine(monkeypatch):
    """A CPU search on a machine with GPUs joins with gloo (NCCL there put both ranks on one GPU and failed)."""
    import torch
    import torch.distributed as dist
    from runtime.distributed import Workers
    chosen = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(dist, "is_initialized", lambda: False)
    monkeypatch.setattr(dist, "init_process_group", lambda backend, **kw: chosen.append(backend))
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("LOCAL_RANK", "1")
    w = Workers.from_env("cpu")
    assert chosen == ["gloo"] and (w.rank, w.world, w.local_rank) == (1, 2, 1)


def test_more_processes_than_gpus_is_one_clear_error(monkeypatch):
    import pytest
    import torch
    from runtime.device import DeviceError, resolve_device
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(DeviceError, match="no GPU of its own.*nproc-per-node"):
        resolve_device("cuda", local_rank=1)
