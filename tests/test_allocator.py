"""runtime.allocator: freed activation memory is reused instead of being faulted in again from the kernel."""
from __future__ import annotations

import subprocess
import sys

import pytest

from runtime.allocator import retain_freed_memory

_PROBE = """
import resource, sys, torch
import torch.nn.functional as F
from runtime.allocator import retain_freed_memory
applied = retain_freed_memory() if sys.argv[1] == "retain" else False
torch.set_num_threads(1)
x = torch.ones(64, 16, 32, 32).contiguous(memory_format=torch.channels_last)  # 4 MiB, as in a supernet at batch 64
w = torch.ones(16, 16, 3, 3)

def forward():  # six convolutions and residual adds, every intermediate freed on the way
    y = x
    for _ in range(6):
        y = F.conv2d(y, w, padding=1) + y
    return y

with torch.no_grad():
    for _ in range(5):  # warm up: the heap grows to its working size
        forward()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(10):
        forward()
print(int(applied), resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults(mode: str) -> tuple[bool, int]:
    out = subprocess.run([sys.executable, "-c", _PROBE, mode], capture_output=True, text=True, check=True).stdout
    applied, faults = out.split()
    return applied == "1", int(faults)


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mallopt is glibc's")
def test_retained_memory_is_not_faulted_in_again() -> None:
    """With the system defaults the convolutions' 4 MiB blocks come back from the kernel page by page, zero-filled
    (measured about 80,000 minor faults in 10 forwards, 20 tensors' worth per forward); retained, the warm heap is
    reused: 0 faults measured, at most one tensor's pages seen."""
    applied, retained = _faults("retain")
    if not applied:
        pytest.skip("not glibc: the allocator keeps its defaults")
    _, system = _faults("system")
    pages = 64 * 16 * 32 * 32 * 4 // 4096
    assert system >= 20 * pages  # at least two tensors' pages per forward
    # retained: at most a one-off growth of the heap in the whole window (a CI run once saw exactly one tensor's
    # pages, 1024), against 20 tensors' or more with the defaults
    assert retained <= 2 * pages


def test_retain_is_idempotent() -> None:
    """Applying it twice (CLI entry, then a benchmark script) is harmless and answers the same."""
    assert retain_freed_memory() == retain_freed_memory()
