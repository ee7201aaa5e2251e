"""`tse`, `tse-e`, `tse-ema`: training-speed estimation (Ru et al. 2021, Section 2) as validators.

Each candidate trains `val_epochs` epochs of `val_steps_per_epoch` minibatches from the same seed on the
same minibatches; L_t is epoch t's mean minibatch training loss (scoring.tse) and the score is minus the
estimator: TSE = sum_t L_t, TSE-E = the last E epochs, TSE-EMA = sum_t gamma^(T-t) L_t (lower is better).
With `val_repeats` R > 1 the candidate trains R times, repeat r from its own initialisation and minibatch
order (r = 0: the single run's), and L_t is the mean over the repeats; each estimator is linear in the L_t,
so the estimate is the mean of the R single estimates.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar

from scoring.tse import TSERecorder, estimate

from runtime.settings import SettingsError, setting

from .validator import VALIDATORS, TrainingSettings, ValidationContext, Validator, Verdict
from .training import cosine, sgd, train_steps, training_network, training_stream


@dataclass
class TSESettings(TrainingSettings):
    """Options of the training-speed validators (tse, tse-e, tse-ema)."""

    val_repeats: int = setting(1, "tse*: train each candidate R times (each from its own initialisation and "
                                  "minibatch order; the first is the single run's) and average the estimates: "
                                  "less noise for R times the cost", minimum=1)


@dataclass
class TSEESettings(TSESettings):
    """tse-e's options: how many of the last epochs count."""

    tse_e: int = setting(1, "tse-e: the last E epochs count (Ru et al. 2021: E=1)", minimum=1)


@dataclass
class TSEEMASettings(TSESettings):
    """tse-ema's options: the decay."""

    tse_gamma: float = setting(0.999, "tse-ema: decay gamma (Ru et al. 2021's recommendation)")

    def validate(self) -> None:
        super().validate()
        if not 0.0 < self.tse_gamma <= 1.0:
            raise SettingsError(f"--tse-gamma must be in (0, 1], got {self.tse_gamma}")


class _TSE(Validator):
    """Common part: train, record the losses per epoch, estimate."""

    estimator: ClassVar[str] = "tse"
    repeatable = True
    Settings = TSESettings

    def options(self) -> dict[str, float]:
        """The estimator's own options (E, gamma)."""
        return {}

    def score(self, ctx: ValidationContext, genotype: str) -> Verdict:
        s = self.settings
        runs = [self._train(dataclasses.replace(ctx, repeat=ctx.repeat + r), genotype) for r in range(s.val_repeats)]
        losses = [sum(col) / len(col) for col in zip(*(epochs for epochs, _ in runs))]
        value = estimate(self.estimator, losses, **self.options())
        details: dict[str, Any] = {"estimate": value, "steps": len(runs[0][1]), "epoch_losses": losses}
        curve = runs[0][1]
        if len(runs) > 1:
            details["repeat_estimates"] = [estimate(self.estimator, e, **self.options()) for e, _ in runs]
            curve = [{**row, "repeat": r} for r, (_, c) in enumerate(runs) for row in c]
        return Verdict(-value, details, curve)

    def _train(self, ctx: ValidationContext, genotype: str) -> tuple[list[float], list[dict[str, Any]]]:
        """One training of the candidate: its per-epoch mean losses and its curve."""
        s = self.settings
        net = training_network(ctx, s, genotype)
        stream, per_epoch = training_stream(ctx, s)
        total = s.val_epochs * per_epoch
        curve = train_steps(net, stream, sgd(net.parameters(), s), cosine(s.val_lr, total), total)
        rec = TSERecorder()
        for row in curve:
            if int(row["step"]) % per_epoch == 0:
                rec.start_epoch()
            rec.record(float(row["loss"]))
        return rec.epoch_losses(), curve


@VALIDATORS.register("tse")
class TSE(_TSE):
    """Minus TSE, the sum of the epoch training losses."""

    estimator = "tse"


@VALIDATORS.register("tse-e")
class TSEE(_TSE):
    """Minus TSE-E, the sum over the last E epochs."""

    estimator = "tse-e"
    Settings = TSEESettings

    def options(self) -> dict[str, float]:
        return {"E": self.settings.tse_e}


@VALIDATORS.register("tse-ema")
class TSEEMA(_TSE):
    """Minus TSE-EMA, the gamma-weighted sum, recent epochs weighted most."""

    estimator = "tse-ema"
    Settings = TSEEMASettings

    def options(self) -> dict[str, float]:
        return {"gamma": self.settings.tse_gamma}
