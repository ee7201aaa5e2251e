"""Shared fixtures: tiny spaces and the location of the shared data (a setting, never hard-coded)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def shared_data() -> Path:
    """OPSCORE_DATA, or ../shared/data beside the project."""
    return Path(os.environ.get("OPSCORE_DATA", ROOT.parent / "shared" / "data"))


@pytest.fixture
def shared_data_dir() -> Path:
    d = shared_data()
    if not (d / "cifar10-subset").is_dir():
        pytest.skip(f"shared data not found at {d} (set OPSCORE_DATA)")
    return d


@pytest.fixture(autouse=True, scope="session")
def _one_thread():
    """Tiny test networks gain nothing from threads; one thread keeps the suite fast on a busy machine."""
    import torch
    torch.set_num_threads(1)
    yield


class Killed(BaseException):
    """Stands for the process being killed (not an Exception, so no handler in the code swallows it)."""


@pytest.fixture
def kill_after_steps(monkeypatch):
    """Make the next search die right after it checkpointed `steps` decision steps of `iteration`."""
    import runtime.rundir as run_mod  # the run folder's writes
    real = run_mod.atomic_write_json

    def arm(iteration: int, steps: int) -> None:
        def write(path, data):
            real(path, data)
            if Path(path).name == "proposal_steps.json" and data["iteration"] == iteration \
                    and len(data["steps"]) == steps:
                monkeypatch.setattr(run_mod, "atomic_write_json", real)  # only once
                raise Killed
        monkeypatch.setattr(run_mod, "atomic_write_json", write)
    return arm


def pytest_collection_modifyitems(config, items):
    """`@pytest.mark.slow_params(id, ...)` marks only those parametrizations of a test slow, so a contract test over
    every registered thing stays in the fast tier (`-m "not slow"`) for all but its heavy members."""
    for item in items:
        marker = item.get_closest_marker("slow_params")
        callspec = getattr(item, "callspec", None)
        if marker is not None and callspec is not None and callspec.id in marker.args:
            item.add_marker(pytest.mark.slow)
