"""Exception types that mean "the user asked for something that cannot work" (one-line errors)."""
from __future__ import annotations

from scoring.selection import ScoringError
from supernet.arch_state import ArchStateError
from supernet.registry import UnknownNameError
from supernet.spaces.base import GenotypeError
from train_final.data import DataError

from ..benchmarks import BenchmarkError
from ..config import ConfigError

USER_ERRORS: tuple[type[BaseException], ...] = (
    ConfigError, DataError, BenchmarkError, GenotypeError, UnknownNameError, ArchStateError, ScoringError,
    FileNotFoundError, PermissionError, IsADirectoryError,
)
