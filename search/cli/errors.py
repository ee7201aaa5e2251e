"""Exception types that mean "the user asked for something that cannot work" (one-line errors, exit status
2), and the exit statuses of a run that finished but whose benchmark lookup failed (3) or whose candidates all
scored -inf or NaN (4)."""
from __future__ import annotations

import sys
from typing import Callable

from runtime.checkpoint_file import CheckpointError
from runtime.device import DeviceError
from runtime.io import WriteError
from runtime.rundir import RunFolderError
from runtime.settings import SettingsError
from scoring.scorers.scorer import ScorerSetupError
from scoring.selection import ScoringError
from supernet.arch_state import ArchStateError
from supernet.registry import UnknownNameError
from supernet.spaces.space import GenotypeError
from runtime.data import DataError
from train_final.recipe import RecipeError

from ..benchmarks import BenchmarkError
from ..config import ConfigError
from ..score_cache import ScoreCacheError
from ..supernet_train.checkpoint import SupernetCheckpointError

USER_ERRORS: tuple[type[BaseException], ...] = (
    SettingsError, ConfigError, DataError, BenchmarkError, GenotypeError, UnknownNameError, ArchStateError,
    ScoringError, RecipeError, SupernetCheckpointError, ScorerSetupError, RunFolderError, DeviceError, ScoreCacheError,
    CheckpointError, WriteError, FileNotFoundError, PermissionError, IsADirectoryError,
)

USER_ERROR = 2
LOOKUP_FAILED = 3  # the run's result.json is written; a benchmark lookup failed (its `benchmark_errors`)
NO_SIGNAL = 4  # the run's result.json is written, but every candidate scored -inf or NaN (its `no_signal`)


def exit_on_user_error(main: Callable[[], object]) -> None:
    """Run a script's `main`; a user mistake (USER_ERRORS) ends it with one line and status 2, no traceback."""
    try:
        main()
    except USER_ERRORS as e:
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(USER_ERROR) from None


def lookup_status(command: str, result: dict, run_dir: str) -> int:
    """0; NO_SIGNAL when every candidate scored -inf or NaN; else LOOKUP_FAILED with one line per failed benchmark
    on stderr (the result is kept in `run_dir`)."""
    errors = result.get("benchmark_errors") or {}
    for reason in errors.values():
        print(f"opscore {command}: benchmark lookup failed: {reason}; the result is kept in {run_dir}/result.json "
              "(opscore lookup adds it later)", file=sys.stderr)
    if result.get("no_signal"):
        print(f"opscore {command}: no signal: {result['no_signal']}; the result is kept in {run_dir}/result.json",
              file=sys.stderr)
        return NO_SIGNAL
    return LOOKUP_FAILED if errors else 0
