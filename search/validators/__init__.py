"""Validators: how the validation stage ranks candidates, one module each, registered in VALIDATORS."""
import dataclasses

from runtime.settings import SettingsError, merge_settings

from .validator import VALIDATORS, TrainingSettings, ValidationContext, Validator, Verdict, build_validator
from . import proxy_sum, tse, fear, vote  # noqa: F401,E402  (register themselves)
from .stage import validate_candidates  # noqa: E402

ValidatorSettings = merge_settings(
    "ValidatorSettings", [VALIDATORS.get(n).Settings for n in VALIDATORS.names()],
    "Every registered validator's options, for a command that may run any of them (opscore proxies).")



def check_in_use(settings: object, used: list[str]) -> None:
    """A SettingsError for a validator option set away from its default that none of the validators `used`
    takes (never silently ignored)."""
    for f in dataclasses.fields(ValidatorSettings):
        if getattr(settings, f.name) == f.default:
            continue
        owners = [n for n in VALIDATORS.names() if f.name in VALIDATORS.options(n)]
        if not set(owners) & set(used):
            kind = "validator" if len(owners) == 1 else "validators"
            raise SettingsError(f"--{f.name.replace('_', '-')} is an option of {kind} "
                                f"{', '.join(repr(n) for n in owners)}; this run uses "
                                f"{', '.join(repr(n) for n in used) or 'none'}: drop it or choose one of them")


__all__ = ["check_in_use", "VALIDATORS", "TrainingSettings", "ValidationContext", "Validator", "ValidatorSettings", "Verdict",
           "build_validator", "validate_candidates"]
