"""The validation stage: every candidate scored by a validator, checkpointed after each one."""
from __future__ import annotations

from typing import Any, Callable, Iterable, Mapping

from .validator import ValidationContext, Validator, Verdict

Sink = Callable[[dict[str, float], dict[str, dict[str, Any]]], None]


def validate_candidates(validator: Validator, ctx: ValidationContext, genotypes: list[str],
                        done: Mapping[str, float] | None = None,
                        done_details: Mapping[str, Mapping[str, Any]] | None = None,
                        sink: Sink | None = None,
                        on_verdict: Callable[[str, Verdict], None] | None = None,
                        progress: Callable[[Iterable[str]], Iterable[str]] = lambda xs: xs,
                        details_out: dict[str, dict[str, Any]] | None = None) -> dict[str, float]:
    """Score of each genotype (higher is better). Scores in `done` (a checkpoint, with their details) are
    taken as they are; after each new candidate `sink(scores, details)` persists the scores so far and
    `on_verdict` receives its verdict (curves, TensorBoard). `details_out` receives every candidate's details.
    Scores are the validator's `finalize` over the candidates scored (a vote ranks them among each other)."""
    scores: dict[str, float] = {g: float(done[g]) for g in genotypes if done and g in done}
    details: dict[str, dict[str, Any]] = {g: dict(done_details[g]) for g in scores
                                          if done_details and g in done_details}
    validator.restore(details)
    for g in progress([g for g in genotypes if g not in scores]):
        verdict = validator.score(ctx, g)
        scores[g] = float(verdict.score)
        if verdict.details:
            details[g] = verdict.details
        if on_verdict is not None:
            on_verdict(g, verdict)
        if sink is not None:
            sink(validator.finalize(scores, details), dict(details))
    if details_out is not None:
        details_out.update(details)
    final = validator.finalize({g: scores[g] for g in genotypes}, details)
    return {g: final[g] for g in genotypes}
