"""benchmarks/proposal_vs.py keeps working: it times our proposal iteration and another command's, and reports
the ratio of the medians; a regex reads the other command's own per-iteration times."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "proposal_vs.py"


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})


def test_ours_against_a_command_that_reports_its_times():
    """The other side prints two iteration times (3 s and 5 s): its median is 4 s; ours is measured for real."""
    out = _run("--space", "nb201", "--batch-size", "4", "--repeats", "1", "--iterations", "1",
               "--theirs", "echo 'iteration took 3.0 s'; echo 'iteration took 5.0 s'",
               "--theirs-regex", r"took ([0-9.]+) s")
    assert out.returncode == 0, out.stderr
    ours = float(re.search(r"ours\s+([0-9.]+) s", out.stdout).group(1))
    assert re.search(r"theirs\s+4\.00 s\s+\(3\.00-5\.00, 2 values\)", out.stdout)
    ratio = float(re.search(r"theirs / ours = ([0-9.]+)x", out.stdout).group(1))
    assert ours > 0 and abs(ratio - 4.0 / ours) <= 0.01 * ratio + 0.01


def test_a_regex_without_a_command_is_one_line():
    out = _run("--theirs-regex", "x")
    assert out.returncode != 0 and "Traceback" not in out.stderr
    assert out.stderr.strip().splitlines() == ["proposal_vs: --theirs-regex needs --theirs (the command whose "
                                               "output it reads)"]


def test_a_regex_that_matches_nothing_is_one_line():
    out = _run("--batch-size", "4", "--repeats", "1", "--iterations", "1", "--theirs", "echo nothing",
               "--theirs-regex", r"took ([0-9.]+) s")
    assert out.returncode != 0 and "Traceback" not in out.stderr
    assert "matched nothing" in out.stderr.strip().splitlines()[-1]
