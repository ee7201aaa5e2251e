"""Exception types that mean "the user asked for something that cannot work" (one-line errors)."""
from __future__ import annotations

from runtime.device import DeviceError
from runtime.rundir import RunFolderError
from runtime.settings import SettingsError
from scoring.scorers.base import ScorerSetupError
from scoring.selection import ScoringError
from supernet.arch_state import ArchStateError
from supernet.registry import UnknownNameError
from supernet.spaces.base import GenotypeError
from train_final.data import DataError
from train_final.recipe import RecipeError

from ..benchmarks import BenchmarkError
from ..config import ConfigError
from ..supernet_train.checkpoint import SupernetCheckpointError

USER_ERRORS: tuple[type[BaseException], ...] = (
    SettingsError, ConfigError, DataError, BenchmarkError, GenotypeError, UnknownNameError, ArchStateError,
    ScoringError, RecipeError, SupernetCheckpointError, ScorerSetupError, RunFolderError, DeviceError,
    FileNotFoundError, PermissionError, IsADirectoryError,
)
