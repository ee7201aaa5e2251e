"""Validators: how the validation stage ranks candidates, one module each, registered in VALIDATORS."""
from .base import VALIDATORS, ValidationContext, Validator, ValidatorSettings, Verdict
from . import proxy_sum, tse, fear, vote  # noqa: F401,E402  (register themselves)
from .stage import validate_candidates  # noqa: E402

__all__ = ["VALIDATORS", "ValidationContext", "Validator", "ValidatorSettings", "Verdict", "validate_candidates"]
