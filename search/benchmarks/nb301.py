"""NAS-Bench-301 (Siems et al. 2020): a DARTS genotype's CIFAR-10 accuracy predicted by the surrogate ensemble.

The `nasbench301` package pins old dependencies that do not install beside a current torch, so it is used
in one of two ways: imported here when it is installed beside opscore, or (`--nb301-python PATH`) in its
own environment, where `nb301_worker.py` (standard library only) answers JSON requests on stdin. Both
paths share the genotype conversion and the call (`search.benchmarks.nb301_worker`). `noise` is explicit:
False gives the ensemble's mean prediction, True one noisy sample as a real training run would.
"""
from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runtime.settings import setting

from supernet.spaces.space import GenotypeError
from supernet.spaces.darts_genotype import darts_genotype_to_json, parse_darts_genotype

from . import nb301_worker
from .source import BENCHMARKS, BenchmarkError, MetricSettings
from .lookups import check_space

METRIC = "cifar10_valid_acc"  # the surrogate is fitted to CIFAR-10 validation accuracies
WORKER = Path(nb301_worker.__file__)
TIMEOUT_S = 600


def _genotype_json(arch: str) -> dict[str, Any]:
    """opscore's JSON form of a DARTS genotype text."""
    try:
        return darts_genotype_to_json(parse_darts_genotype(arch))
    except GenotypeError as e:
        raise BenchmarkError(f"NAS-Bench-301 holds DARTS genotypes: {e}") from None


class SubprocessSurrogate:
    """The surrogate in another environment: `python nb301_worker.py` per request."""

    def __init__(self, python: str | Path, models: str | Path, noise: bool) -> None:
        self.python, self.models, self.noise = str(python), str(models), noise
        if not Path(self.python).exists():
            raise BenchmarkError(f"--nb301-python {self.python} does not exist; pass the python of the "
                                 "environment that has nasbench301 (e.g. VENV/bin/python)")
        self.version = self.request([])["version"]  # loads the surrogate once: fail before any search work

    def request(self, genotypes: list[dict[str, Any]]) -> dict[str, Any]:
        """Send one request to the worker; its error, or a crash without an answer, is one line."""
        payload = json.dumps({"models": self.models, "noise": self.noise, "genotypes": genotypes})
        try:
            proc = subprocess.run([self.python, str(WORKER)], input=payload, capture_output=True, text=True,
                                  timeout=TIMEOUT_S)
        except (OSError, subprocess.TimeoutExpired) as e:
            raise BenchmarkError(f"cannot run the NAS-Bench-301 worker with {self.python}: {e}") from None
        lines = [line for line in proc.stdout.splitlines() if line.strip()]
        try:
            reply = json.loads(lines[-1])
        except (IndexError, ValueError):
            tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            raise BenchmarkError(f"the NAS-Bench-301 worker under {self.python} gave no answer (exit {proc.returncode}"
                                 f"): {tail}") from None
        if "error" in reply:
            raise BenchmarkError(f"NAS-Bench-301: {reply['error']}")
        return reply

    def predict_all(self, genotypes: list[dict[str, Any]]) -> list[float]:
        return [float(v) for v in self.request(genotypes)["predictions"]]


class InProcessSurrogate:
    """The surrogate loaded here (nasbench301 installed beside opscore), or a stand-in object with `predict`."""

    def __init__(self, models: str | Path, noise: bool, surrogate: Any = None) -> None:
        self.noise = noise
        if surrogate is None:
            try:
                surrogate = nb301_worker.load_surrogate(str(models))
            except nb301_worker.WorkerError as e:
                raise BenchmarkError(f"NAS-Bench-301: {e}; the package pins old dependencies: install it in its "
                                     "own environment and pass --nb301-python VENV/bin/python") from None
        self.surrogate = surrogate

    def predict_all(self, genotypes: list[dict[str, Any]]) -> list[float]:
        try:
            return nb301_worker.predict(self.surrogate, genotypes, self.noise)
        except nb301_worker.WorkerError as e:
            raise BenchmarkError(f"NAS-Bench-301: {e}") from None


class NB301Benchmark:
    """Predicted CIFAR-10 accuracy of a DARTS genotype (in-process or through `--nb301-python`)."""

    spaces = ("darts", "darts-s1", "darts-s2", "darts-s3", "darts-s4")
    metrics = (METRIC,)

    def __init__(self, models: str | Path, noise: bool = False, python: str | Path | None = None,
                 surrogate: Any = None) -> None:
        self.models = Path(models)
        if surrogate is None and not self.models.is_dir():
            raise BenchmarkError(f"NAS-Bench-301 model folder {models} does not exist; download the models "
                                 "(e.g. nb_models_1.0/xgb_v1.0) and pass that folder to --nb301-models")
        how = f"python {python}" if python else "in-process"
        self.source = f"nasbench301 surrogate {self.models} (with_noise={noise}, {how})"
        self.backend: SubprocessSurrogate | InProcessSurrogate = (
            SubprocessSurrogate(python, models, noise) if python and surrogate is None
            else InProcessSurrogate(models, noise, surrogate))

    def lookup(self, arch: str) -> dict[str, float]:
        """The surrogate's prediction for the DARTS genotype text `arch`."""
        (value,) = self.backend.predict_all([_genotype_json(arch)])
        return {METRIC: value}


@dataclass
class NB301Settings(MetricSettings):
    """The NAS-Bench-301 source's surrogate model and how it runs."""

    nb301_models: str | None = setting(None, "NAS-Bench-301 surrogate model folder, e.g. nb_models_1.0/xgb_v1.0 "
                                             "(darts spaces; needs nasbench301)", path=True)
    nb301_python: str | None = setting(None, "python of a separate environment that has nasbench301 (default: "
                                             "import it here)")
    nb301_noise: bool = setting(False, "NAS-Bench-301 with_noise: a noisy sample instead of the ensemble mean")


@BENCHMARKS.register("nb301")
class NB301Source:
    """The NAS-Bench-301 surrogate (`--nb301-models`)."""

    Settings = NB301Settings

    @staticmethod
    def open(settings: Any, space: str | None) -> NB301Benchmark | None:
        if not settings.nb301_models:
            if settings.nb301_python:
                raise BenchmarkError("--nb301-python needs --nb301-models DIR (the surrogate model folder)")
            return None
        check_space(NB301Benchmark.spaces, "NAS-Bench-301 (--nb301-models)", space)
        return NB301Benchmark(settings.nb301_models, noise=settings.nb301_noise, python=settings.nb301_python)
