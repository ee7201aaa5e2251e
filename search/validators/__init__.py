"""Validators: how the validation stage ranks candidates, one module each, registered in VALIDATORS."""
from runtime.settings import merge_settings

from .validator import VALIDATORS, TrainingSettings, ValidationContext, Validator, Verdict, build_validator
from . import proxy_sum, tse, fear, vote  # noqa: F401,E402  (register themselves)
from .stage import validate_candidates  # noqa: E402

ValidatorSettings = merge_settings(
    "ValidatorSettings", [VALIDATORS.get(n).Settings for n in VALIDATORS.names()],
    "Every registered validator's options, for a command that may run any of them (opscore proxies).")



__all__ = ["VALIDATORS", "TrainingSettings", "ValidationContext", "Validator", "ValidatorSettings", "Verdict",
           "build_validator", "validate_candidates"]
