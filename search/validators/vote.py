"""`vote`: rank the candidates by the sum of their ranks under several validators (`--vote proxy,tse-ema`).

Abdelfattah et al. (2021, Section 5) vote over zero-cost proxies; here the vote is over validators, so a
zero-cost view of the network at initialisation (`proxy`) and a training-speed view (`tse-ema`) correct each
other's noise. Each member scores every candidate as it would alone; a candidate's vote score is the sum
over members of its rank among the candidates (1 = the lowest score, ties share the mean rank, NaN ranks
below every number), so it exists only once every candidate is scored: `finalize` computes it from the
members' scores kept in the details, and the engine's tie rule (the first candidate) settles equal sums.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

from runtime.settings import SettingsError, setting

from .validator import VALIDATORS, ValidationContext, Validator, Verdict, build_validator, vote_members


def ranks(values: list[float]) -> list[float]:
    """Rank of each value, 1 = the lowest, ties the mean of their ranks, NaN below every number (-inf too)."""
    from scipy.stats import rankdata  # imported here: the CLI parser must start without scipy

    finite = [v for v in values if not math.isnan(v)]
    nan_count = len(values) - len(finite)
    number_ranks = iter(rankdata(finite, method="average") + nan_count) if finite else iter(())
    nan_rank = (nan_count + 1) / 2  # the NaNs tie among themselves below every number
    return [nan_rank if math.isnan(v) else float(next(number_ranks)) for v in values]


def rank_sums(member_scores: Mapping[str, Mapping[str, float]], candidates: list[str]) -> dict[str, float]:
    """Sum over members of each candidate's rank among `candidates`."""
    total = {g: 0.0 for g in candidates}
    for scores in member_scores.values():
        for g, r in zip(candidates, ranks([float(scores[g]) for g in candidates])):
            total[g] += r
    return total


@dataclass
class VoteSettings:
    """The vote's members (their own options are theirs)."""

    vote: str = setting("proxy,tse-ema", "vote: the validators whose ranks are summed (comma list of two or more)")

    def validate(self) -> None:
        """Two or more distinct registered validators, not vote itself."""
        members = vote_members(self.vote)
        for n in members:
            if n == "vote" or n not in VALIDATORS:
                raise SettingsError(f"--vote: {n!r} is not a validator to vote with; choose from "
                                    f"{', '.join(v for v in VALIDATORS.names() if v != 'vote')}")
        if len(set(members)) < 2 or len(set(members)) < len(members):
            raise SettingsError(f"--vote needs two or more different validators, e.g. proxy,tse-ema; got {self.vote!r}")


@VALIDATORS.register("vote")
class Vote(Validator):
    """Sum of the members' ranks; each member scores as it does alone."""

    needs_proxy = True  # per instance: whether a member does; `opscore proxies` (no proxy sum) leaves vote out
    Settings = VoteSettings

    @classmethod
    def in_use(cls, options: Mapping[str, Any]) -> list[str]:
        """The vote and its members (whose options a run may set)."""
        return [cls.name, *vote_members(str(options.get("vote", VoteSettings.vote)))]

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> "Vote":
        """The vote, each member built from the run's options."""
        vote = cls(vote=options.get("vote", VoteSettings.vote))
        vote.members = {n: build_validator(n, options) for n in vote_members(vote.settings.vote)}
        vote.needs_proxy = any(m.needs_proxy for m in vote.members.values())
        vote.order_dependent = any(m.order_dependent for m in vote.members.values())
        return vote

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.members = {n: VALIDATORS.create(n) for n in vote_members(self.settings.vote)}
        self.needs_proxy = any(m.needs_proxy for m in self.members.values())
        self.order_dependent = any(m.order_dependent for m in self.members.values())

    def score(self, ctx: ValidationContext, genotype: str) -> Verdict:
        verdicts = {n: m.score(ctx, genotype) for n, m in self.members.items()}
        details = {"members": {n: float(v.score) for n, v in verdicts.items()},
                   "member_details": {n: v.details for n, v in verdicts.items() if v.details}}
        curve = [{**row, "member": n} for n, v in verdicts.items() for row in v.curve]
        return Verdict(math.nan, details, curve)  # the rank sum comes in `finalize`

    def finalize(self, scores: Mapping[str, float], details: Mapping[str, Mapping[str, Any]]) -> dict[str, float]:
        candidates = list(scores)
        return rank_sums({n: {g: float(details[g]["members"][n]) for g in candidates} for n in self.members},
                         candidates)

    def restore(self, details: Mapping[str, Mapping[str, Any]]) -> None:
        for n, m in self.members.items():
            m.restore({g: d.get("member_details", {}).get(n, {}) for g, d in details.items()})

    def independent(self) -> None:
        for m in self.members.values():
            m.independent()

    def settle(self, ordered: list[tuple[str, float, dict[str, Any]]]) -> dict[str, tuple[float, dict[str, Any]]]:
        """Each order-dependent member's own rule over its scores, then the rank sums of the settled scores."""
        out = {g: (score, {**d, "members": dict(d["members"]), "member_details": dict(d.get("member_details", {}))})
               for g, score, d in ordered}
        for n, m in self.members.items():
            if not m.order_dependent:
                continue
            settled = m.settle([(g, float(out[g][1]["members"][n]), out[g][1]["member_details"].get(n, {}))
                                for g, _, _ in ordered])
            for g, (s, d) in settled.items():
                out[g][1]["members"][n], out[g][1]["member_details"][n] = float(s), d
        sums = self.finalize({g: out[g][0] for g, _, _ in ordered}, {g: out[g][1] for g, _, _ in ordered})
        return {g: (sums[g], out[g][1]) for g, _, _ in ordered}
