"""The `zcpt` strategy: Zero-Cost-PT (Xiang et al. 2023, Section 4.1) as the stages of a search.

propose: N proposal iterations from the same untrained A_0, each deciding every edge in the edge
order with the operation scorer (search.proposals.propose); validate: each unique candidate as a fresh
stand-alone network scored by the validator (search.validators; default: the proxy summed over V
minibatches).

Checkpoints in the run folder: proposals.json (finished iterations), proposal_steps.json (the decision
steps of the running iteration, for scorers that keep no state between decisions), decisions.jsonl,
validation.json (totals of the candidates validated so far and their seconds). `--resume` continues
from them and ends exactly as the uninterrupted run (each iteration has its own seeded batch stream and
order RNG, a replayed step ends with the recorded RNG state, every candidate is validated from the same
seed), counting the seconds they record.
"""
from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any, Callable, Mapping

import torch
from tqdm import tqdm

from runtime import seeds
from runtime.rundir import RunFolder, RunFolderError, settings_differences
from runtime.seeds import derive_seed
from runtime.settings import Schema, setting
from scoring.proxies import PROXIES
from scoring.scorers import SCORERS
from supernet.mixing import MIXING
from supernet.spaces.space import NetConfig

from ..batches import BatchStream
from ..benchmarks import FREE as BENCHMARK_SETTINGS
from ..config import DEFAULT_PROXY, ZCPT_BN_MODE, SearchConfig
from ..factory import build_scoring, scoring_settings
from ..orders import ORDERS
from ..validators import VALIDATORS, ValidationContext, ValidatorSettings, Verdict, build_validator, validate_candidates
from ..proposals import DecisionLog, Proposal, ReplayMismatch, checkpointed_seconds, propose
from .strategy import CANDIDATES, STRATEGIES, SearchContext, Strategy

log = logging.getLogger(__name__)

PROPOSALS, STEPS, DECISIONS, VALIDATION = "proposals.json", "proposal_steps.json", "decisions.jsonl", "validation.json"


def read_validation_checkpoint(data: Any) -> tuple[dict[str, float], dict[str, dict[str, Any]], float]:
    """The validation scores, their details and the seconds an interrupted run saved; a file of the earlier
    plain {genotype: total} layout is read as scores with unknown (zero) seconds, so its work is not redone."""
    saved = data or {}
    if "totals" not in saved and all(isinstance(v, (int, float)) for v in saved.values()):
        return {g: float(v) for g, v in saved.items()}, {}, 0.0
    return dict(saved.get("totals", {})), dict(saved.get("details", {})), float(saved.get("seconds", 0.0))


def read_validation_file(folder: RunFolder) -> tuple[dict[str, float], dict[str, dict[str, Any]], float]:
    """`read_validation_checkpoint` of the folder's validation.json; one of another shape is damaged."""
    try:
        return read_validation_checkpoint(folder.read_json(VALIDATION, kind=dict))
    except (TypeError, ValueError, AttributeError) as e:
        if isinstance(e, RunFolderError):
            raise
        raise folder.damaged(VALIDATION, "not the scores of validated candidates") from None


def read_proposals(folder: RunFolder) -> list[Proposal]:
    """The finished proposals of proposals.json ([] when absent); one of another shape is damaged."""
    try:
        return [Proposal(**p) for p in folder.read_json(PROPOSALS, [], kind=list)]
    except TypeError:
        raise folder.damaged(PROPOSALS, "not a list of finished proposals") from None


def uninformed_decisions(rows: list[dict[str, Any]]) -> str | None:
    """Why the proposals are arbitrary picks (every score of every decision -inf or NaN), or None."""
    values = []
    for r in rows:
        for v in dict(r.get("scores") or {}).values():
            try:
                values.append(float(v))  # NaN and inf read back from decisions.jsonl as text
            except (TypeError, ValueError):
                continue
    if not values or any(not math.isnan(v) and v > -math.inf for v in values):
        return None
    return (f"every score of the {len(rows)} proposal decisions is -inf or NaN: the scores carry no information "
            "(for a data-dependent proxy such as nwot, check that the scoring images differ), so the genotype is "
            "an arbitrary pick, not a search result")


# settings that change only the validation stage (and where the result goes), not the proposals
VALIDATION_ONLY = frozenset({f.name for f in fields(ValidatorSettings)} | set(BENCHMARK_SETTINGS) | {
    "validator", "validation_batches", "val_channels", "val_cells", "out", "proposals_from"})


@dataclass
class ZeroCostPTSettings:
    """Zero-Cost-PT's options: N proposal iterations, V validation minibatches, proposals taken from another run."""

    iterations: int = setting(10, "zcpt: proposal iterations N", short="-N", minimum=1)
    validation_batches: int = setting(100, "zcpt: validation minibatches V (the proxy validator's sum)", short="-V",
                                      minimum=1)
    proposals_from: str | None = setting(None, "zcpt: take the finished proposals of this run directory (same "
                                               "proposal settings) and only validate, e.g. to compare validators",
                                         path=True)
    supernet: str | None = setting(None, "zcpt: score the trained supernet of this checkpoint RUN_DIR/supernet.pt "
                                         "(opscore train-supernet; needed by the training-based scorers) instead of "
                                         "an untrained one", path=True)
    batched: bool | None = setting(None, "zcpt: score all ops of an edge in one grouped forward (default: on with "
                                         "CUDA, except mobilenet)")


def adopt_proposals(folder: RunFolder, source: RunFolder, settings: SearchConfig, iterations: int,
                    schema: Schema) -> None:
    """Copy the finished proposals (and their decisions) of `source`, a run with the same proposal settings."""
    if not source.exists("config.yaml") or not source.exists(PROPOSALS):
        raise RunFolderError(f"--proposals-from {source.root}: not a search run directory with proposals "
                             f"(config.yaml, {PROPOSALS})")
    diff = settings_differences(settings.to_dict(), source.read_yaml("config.yaml"), VALIDATION_ONLY, schema)
    if diff:
        raise RunFolderError(f"--proposals-from {source.root}: its proposal settings differ ({', '.join(diff)}); "
                             "only validation settings may change")
    proposals = source.read_json(PROPOSALS, kind=list)
    if len(proposals) < iterations:
        raise RunFolderError(f"--proposals-from {source.root} has {len(proposals)} of {iterations} proposal "
                             "iterations finished; finish it first (opscore search --resume)")
    folder.write_jsonl(DECISIONS, source.read_jsonl(DECISIONS, keys=("iteration",)))
    folder.write_json(PROPOSALS, proposals)
    log.info("proposals: %d taken from %s", len(proposals), source.root)


@STRATEGIES.register("zcpt")
class ZeroCostPT(Strategy):
    """Zero-Cost-PT: proposals by an operation scorer and an edge order, validation by a proxy sum."""

    markers = (PROPOSALS, "result.json")
    Settings = ZeroCostPTSettings

    def settle(self, settings: SearchConfig) -> SearchConfig:
        """No --proxy means nwot and no --bn-mode eval (the defaults), written as such into config.yaml."""
        return replace(settings, proxy=settings.proxy or DEFAULT_PROXY, bn_mode=settings.bn_mode or ZCPT_BN_MODE)

    def check(self, settings: SearchConfig) -> None:
        """The scorer, order, proxy and mixing rule are registered."""
        SCORERS.get(settings.scorer), ORDERS.get(settings.order), PROXIES.get(settings.proxy or DEFAULT_PROXY)
        MIXING.get(settings.mixing), VALIDATORS.get(settings.validator)

    def prepare(self, ctx: SearchContext) -> None:
        """Supernet A_0, scorer and proxy; the proposals an interrupted run finished."""
        s = ctx.settings
        self.state, self.supernet, self.scorer, self.proxy = build_scoring(scoring_settings(s), ctx.space,
                                                                           ctx.device, ctx.num_classes,
                                                                           ctx.input_size)
        self.a0 = self.state.snapshot()
        if self.settings.proposals_from and not ctx.folder.exists(PROPOSALS) and ctx.workers.is_main:
            adopt_proposals(ctx.folder, RunFolder(Path(self.settings.proposals_from), writes=False), s,
                            self.settings.iterations, ctx.schema)
        done = read_proposals(ctx.folder) if ctx.workers.is_main else []
        self.done: list[Proposal] = ctx.workers.gather(done)  # every rank knows the finished iterations
        self.proposals: list[Proposal] = []
        self.validation_seconds = 0.0

    # ------------------------------------------------------------------ propose
    def _step_checkpoint(self, ctx: SearchContext, iteration: int) -> tuple[list[dict], Callable[[dict], None]]:
        """The step records of `iteration` saved by an interrupted run (if any), and the sink that saves them."""
        saved = ctx.folder.read_json(STEPS, {}, kind=dict)
        if saved and (not isinstance(saved.get("iteration"), int) or not isinstance(saved.get("steps"), list)
                      or not all(isinstance(r, dict) and {"scores", "choice", "evaluations"} <= r.keys()
                                 for r in saved["steps"])):
            raise ctx.folder.damaged(STEPS, "not an iteration number with a list of decision steps")
        steps: list[dict] = list(saved.get("steps", [])) if saved.get("iteration") == iteration else []
        if steps:
            log.info("proposal %d: resuming after %d recorded decision steps", iteration, len(steps))

        def record(step: dict) -> None:
            steps.append(step)
            ctx.folder.write_json(STEPS, {"iteration": iteration, "steps": steps})
        return list(steps), record

    def propose(self, ctx: SearchContext) -> list[str]:
        s, folder, workers, done = ctx.settings, ctx.folder, ctx.workers, self.done
        old_rows = [r for r in folder.read_jsonl(DECISIONS, keys=("iteration",)) if r["iteration"] < len(done)] \
            if done else []
        sequential = workers.world == 1
        decisions = DecisionLog((lambda rows: folder.write_jsonl(DECISIONS, rows)) if sequential else None)
        decisions.rows = old_rows if sequential else []
        log.info("search %s: strategy=zcpt space=%s scorer=%s proxy=%s order=%s N=%d V=%d batch=%d seed=%d "
                 "device=%s bn=%s workers=%d", folder.root, s.space, s.scorer, s.proxy, s.order, self.settings.iterations,
                 self.settings.validation_batches, s.batch_size, s.seed, ctx.device, s.bn_mode, workers.world)
        proposals = list(done)
        ctx.carry(sum(p.seconds for p in done))
        stepwise = sequential and self.scorer.replayable
        with self.scorer.session():  # hooks attached once per search
            for i in tqdm(workers.mine(list(range(len(done), self.settings.iterations))), desc="proposal",
                          disable=not ctx.show_progress):
                torch.manual_seed(derive_seed(s.seed, seeds.PROPOSAL, i, 2))  # augmentation / noise ops
                stream = BatchStream(ctx.dataset, s.batch_size, derive_seed(s.seed, seeds.PROPOSAL, i), ctx.device,
                                     s.channels_last)
                replay, record = self._step_checkpoint(ctx, i) if stepwise else ([], None)
                ctx.carry(checkpointed_seconds(replay))
                try:
                    p = propose(ctx.space, self.scorer, self.state, self.a0, s.order, stream, s.seed, i, decisions,
                                replay, record, s.options_of(ORDERS, s.order))
                except ReplayMismatch as e:
                    raise RunFolderError(f"cannot resume {folder.root}: {e} (the code or data changed since the run "
                                         f"was interrupted); delete {folder.path(STEPS)} to redo that iteration") \
                        from None
                proposals.append(p)
                if sequential:
                    folder.write_json(PROPOSALS, [asdict(q) for q in proposals])
                    if folder.writes:
                        folder.path(STEPS).unlink(missing_ok=True)
                    ctx.writer.add_scalar("proposal/seconds", p.seconds, i)
                log.info("proposal %d: %s (%.1fs, %d evaluations)", i, p.genotype, p.seconds, p.evaluations)
        if not sequential:
            mine = sorted(workers.gather(proposals[len(done):]), key=lambda q: q.iteration)
            proposals = list(done) + mine
            rows = sorted(workers.gather(decisions.rows), key=lambda r: r["iteration"])  # stable: steps stay ordered
            folder.write_json(PROPOSALS, [asdict(q) for q in proposals])
            folder.write_jsonl(DECISIONS, old_rows + rows)
            for q in mine:
                ctx.writer.add_scalar("proposal/seconds", q.seconds, q.iteration)
        self.decision_rows = decisions.rows if sequential else old_rows + rows
        self.proposals = proposals
        return list(dict.fromkeys(p.genotype for p in proposals))

    # ------------------------------------------------------------------ validate
    def validate(self, ctx: SearchContext, candidates: list[str]) -> dict[str, float]:
        """Each unique candidate scored by the validator (`--validator`, default: the proxy over V batches)."""
        s, folder, workers = ctx.settings, ctx.folder, ctx.workers
        t_val = time.perf_counter()
        torch.manual_seed(derive_seed(s.seed, seeds.VALIDATION, 1))
        validator = build_validator(s.validator, s.options)
        batches = []
        if validator.needs_proxy:
            vstream = BatchStream(ctx.dataset, s.batch_size, derive_seed(s.seed, seeds.VALIDATION), ctx.device,
                                  s.channels_last)
            batches = vstream.take(self.settings.validation_batches)
        base = ctx.space.default_net_config("validation")
        net_cfg = NetConfig(channels=s.val_channels or base.channels, cells=s.val_cells or base.cells,
                            num_classes=ctx.num_classes, input_size=ctx.input_size)
        vctx = ValidationContext(ctx.space, ctx.dataset, ctx.num_classes, net_cfg, ctx.device, s.seed, s.batch_size,
                                 s.channels_last, self.proxy, batches)
        sequential = workers.world == 1
        done, details, carried = read_validation_file(folder) if sequential else ({}, {}, 0.0)
        ctx.carry(carried)
        t_val -= carried  # validation seconds spent before a kill count
        if done:
            log.info("validation: %d of %d candidates already scored (%s)", sum(g in done for g in candidates),
                     len(candidates), VALIDATION)

        def sink(scores: dict[str, float], info: dict[str, dict[str, Any]]) -> None:
            folder.write_json(VALIDATION, {"totals": scores, "details": info, "seconds": time.perf_counter() - t_val})

        def on_verdict(genotype: str, verdict: Verdict) -> None:
            if verdict.curve:  # the candidate's training curve: curves/<k>.jsonl and TensorBoard
                k = candidates.index(genotype)
                folder.write_jsonl(f"curves/{k}.jsonl", [{"genotype": genotype, **r} for r in verdict.curve])
                for i, r in enumerate(verdict.curve):
                    ctx.writer.add_scalar(f"validation/{k}/loss", r["loss"], i)
                    ctx.writer.add_scalar(f"validation/{k}/accuracy", r["accuracy"], i)

        settle = not sequential and validator.order_dependent
        if settle:  # each rank scores its share as if first; the order-dependent rule is applied afterwards
            validator.independent()
        my_details: dict[str, dict[str, Any]] = {}
        mine = validate_candidates(validator, vctx, workers.mine(candidates), done, details,
                                   sink if sequential else None, on_verdict,
                                   lambda xs: tqdm(xs, desc="validation", disable=not ctx.show_progress),
                                   details_out=my_details)
        totals = dict(workers.gather(list(mine.items())))
        if not sequential:  # each rank scored its share: the order rule and the final scores need them all
            all_details = dict(workers.gather(list(my_details.items())))
            if settle:
                settled = validator.settle([(g, totals[g], all_details.get(g, {})) for g in candidates])
                totals = {g: settled[g][0] for g in candidates}
            else:
                totals = validator.finalize({g: totals[g] for g in candidates}, all_details)
        self.validation_seconds = time.perf_counter() - t_val
        for k, g in enumerate(candidates):
            ctx.writer.add_scalar("validation/score", totals[g], k)
        folder.write_json(CANDIDATES, [{"genotype": g, "proposed": sum(p.genotype == g for p in self.proposals),
                                               "validation_score": totals[g]} for g in candidates])
        return {g: totals[g] for g in candidates}

    # ------------------------------------------------------------------ report
    def report(self, ctx: SearchContext, candidates: list[str], scores: Mapping[str, float]) -> dict[str, Any]:
        """The common result; a single candidate whose every decision scored all its options -inf or NaN is an
        arbitrary pick too (`no_signal`), though validation had nothing to choose from."""
        result = super().report(ctx, candidates, scores)
        if "no_signal" not in result and len(candidates) == 1:
            silent = uninformed_decisions(self.decision_rows)
            if silent:
                log.warning("%s", silent)
                result["no_signal"] = silent
        return result

    def details(self, ctx: SearchContext) -> dict[str, Any]:
        s, first = ctx.settings, self.proposals[0]
        out: dict[str, Any] = {
            "scorer": s.scorer, "proxy": s.proxy, "order": s.order, "N": self.settings.iterations, "V": self.settings.validation_batches,
            "batch_size": s.batch_size, "bn_mode": s.bn_mode, "validator": s.validator,
            "perturbations_per_iteration": first.evaluations,
            "proposal_seconds": [p.seconds for p in self.proposals], "validation_seconds": self.validation_seconds,
        }
        if ctx.space.topology_groups():
            out["topology_perturbations_per_iteration"] = first.topology_evaluations
        return out
