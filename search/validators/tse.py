"""`tse`, `tse-e`, `tse-ema`: training-speed estimation (Ru et al. 2021, Section 2) as validators.

Each candidate trains `val_epochs` epochs of `val_steps_per_epoch` minibatches from the same seed on the
same minibatches; L_t is epoch t's mean minibatch training loss (scoring.tse) and the score is minus the
estimator: TSE = sum_t L_t, TSE-E = the last E epochs, TSE-EMA = sum_t gamma^(T-t) L_t (lower is better).
"""
from __future__ import annotations

from typing import ClassVar

from scoring.tse import TSERecorder, estimate

from .base import VALIDATORS, ValidationContext, Validator, Verdict
from .training import cosine, sgd, train_steps, training_stream


class _TSE(Validator):
    """Common part: train, record the losses per epoch, estimate."""

    estimator: ClassVar[str] = "tse"

    def options(self) -> dict[str, float]:
        """The estimator's own options (E, gamma)."""
        return {}

    def score(self, ctx: ValidationContext, genotype: str) -> Verdict:
        s = self.settings
        net = ctx.network(genotype)
        stream, per_epoch = training_stream(ctx, s)
        total = s.val_epochs * per_epoch
        curve = train_steps(net, stream, sgd(net.parameters(), s), cosine(s.val_lr, total), total)
        rec = TSERecorder()
        for row in curve:
            if int(row["step"]) % per_epoch == 0:
                rec.start_epoch()
            rec.record(float(row["loss"]))
        value = estimate(self.estimator, rec.epoch_losses(), **self.options())
        return Verdict(-value, {"estimate": value, "steps": total, "epoch_losses": rec.epoch_losses()}, curve)


@VALIDATORS.register("tse")
class TSE(_TSE):
    """Minus TSE, the sum of the epoch training losses."""

    estimator = "tse"


@VALIDATORS.register("tse-e")
class TSEE(_TSE):
    """Minus TSE-E, the sum over the last E epochs."""

    estimator = "tse-e"

    def options(self) -> dict[str, float]:
        return {"E": self.settings.tse_e}


@VALIDATORS.register("tse-ema")
class TSEEMA(_TSE):
    """Minus TSE-EMA, the gamma-weighted sum, recent epochs weighted most."""

    estimator = "tse-ema"

    def options(self) -> dict[str, float]:
        return {"gamma": self.settings.tse_gamma}
