"""`fear` (Dey et al. 2021, Section 3): train a candidate until its training accuracy reaches a threshold
(stage 1), freeze most of the network and train the last layers a little more (stage 2), and rank by the
training accuracy at the end of stage 2. A candidate whose stage 1 needs more than r times the fewest
stage-1 steps seen so far is rejected early (RS-FEAR, Algorithm 1), as is one that never reaches the
threshold within `val_epochs`.

Choices the paper leaves open (spec-proxies.md, 11): time is counted in training steps, not seconds, so a
search stays reproducible; the threshold is checked after every step on the mean accuracy of the last
`fear_window` minibatches; stage 1's cosine runs over its cap (`val_epochs`); freezing sets
requires_grad only (BN statistics keep updating, as the authors' code does) and stage 2 gets a fresh
optimiser; the final accuracy is the mean over stage 2's last `fear_window` minibatches.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

from runtime.settings import SettingsError, setting

from .validator import VALIDATORS, TrainingSettings, ValidationContext, Validator, Verdict
from .training import Step, cosine, freeze_input_side, sgd, train_steps, training_network, training_stream, window_mean


def stage1_budget(cap: int, fewest: int | None, ratio: float) -> int:
    """Steps stage 1 may take: the cap, or r times the fewest steps a candidate needed so far."""
    return cap if fewest is None else min(cap, math.floor(ratio * fewest))


@dataclass
class FEARSettings(TrainingSettings):
    """FEAR's options (Dey et al. 2021): the threshold of stage 1, the frozen share, stage 2, early rejection."""

    fear_threshold: float = setting(0.6, "fear: training accuracy that ends stage 1 (Dey et al. 2021: 0.6 on "
                                         "CIFAR-10; `opscore fear-threshold` derives it)")
    fear_window: int = setting(10, "fear: stage 1 ends when the mean accuracy of this many last minibatches "
                                   "reaches the threshold", minimum=1)
    fear_freeze: float = setting(0.53, "fear: share of the parameters, from the input on, frozen in stage 2 "
                                       "(Dey et al. 2021: about 53%)")
    fear_stage2_steps: int = setting(50, "fear: minibatches of stage 2 (last layers only)", minimum=1)
    fear_reject_ratio: float = setting(4.0, "fear: early-reject a candidate whose stage 1 needs more than r "
                                            "times the fewest steps so far (Dey et al. 2021: r=4)", minimum=1.0)

    def validate(self) -> None:
        """The shares and the accuracy lie in their ranges."""
        super().validate()
        if not 0.0 <= self.fear_freeze < 1.0:
            raise SettingsError(f"--fear-freeze is a share of the parameters in [0, 1), got {self.fear_freeze}")
        if not 0.0 < self.fear_threshold <= 1.0:
            raise SettingsError(f"--fear-threshold is a training accuracy in (0, 1], got {self.fear_threshold}")


@VALIDATORS.register("fear")
class FEAR(Validator):
    """Stage-2 training accuracy after reaching the threshold; early rejection by the ratio rule."""

    order_dependent = True  # the ratio rule compares with the candidates before
    Settings = FEARSettings

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.fewest: int | None = None  # stage-1 steps of the fastest candidate so far
        self.early_reject = True  # off in `independent` mode: `settle` applies the rule afterwards

    def restore(self, details: Mapping[str, Mapping[str, Any]]) -> None:
        for d in details.values():
            if not d.get("rejected") and "stage1_steps" in d:
                self._seen(int(d["stage1_steps"]))

    def _seen(self, steps: int) -> None:
        self.fewest = steps if self.fewest is None else min(self.fewest, steps)

    def reached(self, curve: list[Step]) -> bool:
        """Whether the mean accuracy of the last `fear_window` steps reaches the threshold."""
        m = window_mean([float(r["accuracy"]) for r in curve], self.settings.fear_window)
        return m is not None and m >= self.settings.fear_threshold

    def score(self, ctx: ValidationContext, genotype: str) -> Verdict:
        s = self.settings
        net = training_network(ctx, s, genotype)
        stream, per_epoch = training_stream(ctx, s)
        cap = s.val_epochs * per_epoch
        allowed = stage1_budget(cap, self.fewest if self.early_reject else None, s.fear_reject_ratio)
        stage1 = train_steps(net, stream, sgd(net.parameters(), s), cosine(s.val_lr, cap), allowed, "stage1",
                             self.reached)
        if not self.reached(stage1):
            return Verdict(-math.inf, self._rejection(allowed, cap, self.fewest), stage1)
        self._seen(len(stage1))
        frozen = freeze_input_side(net, s.fear_freeze)
        trainable = [p for p in net.parameters() if p.requires_grad]
        stage2 = train_steps(net, stream, sgd(trainable, s), cosine(s.val_lr, s.fear_stage2_steps),
                             s.fear_stage2_steps, "stage2")
        last = stage2[-min(s.fear_window, len(stage2)):] if stage2 else stage1[-s.fear_window:]
        acc = sum(float(r["accuracy"]) for r in last) / len(last)
        return Verdict(acc, {"rejected": False, "stage1_steps": len(stage1), "stage1_cap": cap,
                             "frozen_tensors": len(frozen), "stage2_steps": len(stage2)}, stage1 + stage2)

    def _rejection(self, allowed: int, cap: int, fewest: int | None) -> dict[str, Any]:
        """Details of a candidate whose stage 1 did not reach the threshold within `allowed` steps."""
        why = (f"stage 1 needed more than {allowed} steps ({self.settings.fear_reject_ratio} x the fastest, "
               f"{fewest})" if allowed < cap else f"training accuracy stayed below {self.settings.fear_threshold} "
                                                  f"for {cap} steps (--val-epochs)")
        return {"rejected": True, "reason": why, "stage1_steps": allowed, "stage1_cap": cap}

    def independent(self) -> None:
        self.early_reject = False

    def settle(self, ordered: list[tuple[str, float, dict[str, Any]]]) -> dict[str, tuple[float, dict[str, Any]]]:
        """The ratio rule in candidate order. Stage 1 stops at the first step that reaches the threshold, so a
        candidate trained with the whole cap reached it at step t exactly when a budget of t or more would have:
        rejected iff t exceeds the budget the candidates before leave it (and then only -inf and the details
        differ; stage 2 never changes stage 1)."""
        fewest: int | None = None
        out: dict[str, tuple[float, dict[str, Any]]] = {}
        for g, score, d in ordered:
            cap = int(d["stage1_cap"])
            allowed = stage1_budget(cap, fewest, self.settings.fear_reject_ratio)
            if d.get("rejected") or int(d["stage1_steps"]) > allowed:
                out[g] = (-math.inf, self._rejection(allowed, cap, fewest))
            else:
                fewest = int(d["stage1_steps"]) if fewest is None else min(fewest, int(d["stage1_steps"]))
                out[g] = (score, d)
        return out
