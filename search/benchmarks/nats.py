"""NATS-Bench topology search space (= NAS-Bench-201) through the official `nats_bench` API.

The user supplies the extracted `NATS-tss-v1_0-3ffb9-simple` folder (`meta.pickle.pbz2` plus one
`NNNNNN.pickle.pbz2` per architecture) and the optional extra `opscore[bench]`. Every query uses the
200-epoch schedule averaged over the benchmark's seeds (hp='200', is_random=False), never one random
seed or the 12-epoch default.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from runtime.settings import setting

from .source import BENCHMARKS, BenchmarkError, MetricSettings, metric_name
from .lookups import check_space

FOLDER = "NATS-tss-v1_0-3ffb9-simple"
META = "meta.pickle.pbz2"
# (dataset name of the API, key of get_more_info, split): CIFAR-10's validation accuracy is the
# 'cifar10-valid' training run's, its test accuracy the full-training-set run's ('cifar10', ori-test)
QUERIES = (("cifar10-valid", "valid-accuracy", "valid"), ("cifar10", "test-accuracy", "test"),
           ("cifar100", "valid-accuracy", "valid"), ("cifar100", "test-accuracy", "test"),
           ("ImageNet16-120", "valid-accuracy", "valid"), ("ImageNet16-120", "test-accuracy", "test"))
_DATASET = {"cifar10-valid": "cifar10", "cifar10": "cifar10", "cifar100": "cifar100",
            "ImageNet16-120": "imagenet16-120"}


def check_archive(path: Path) -> None:
    """The folder layout of the fast-mode archive; a file, a missing folder or a foreign folder is one line."""
    if not path.exists():
        raise BenchmarkError(f"NATS-Bench archive {path} does not exist; pass the extracted {FOLDER} folder")
    if path.is_file():
        raise BenchmarkError(f"NATS-Bench archive {path} is a file; --nats-bench takes the extracted {FOLDER} "
                             f"folder that holds {META} (extract the .tar; pass the folder, not a .pickle.pbz2 file)")
    if not (path / META).is_file():
        raise BenchmarkError(f"NATS-Bench archive {path} has no {META}; pass the extracted {FOLDER} folder")


def _create_api(path: Path) -> Any:
    """The official API on the archive (fast mode: one file per architecture, read on demand)."""
    try:
        from nats_bench import create  # optional extra 'bench'
    except ImportError:
        raise BenchmarkError("--nats-bench needs the nats_bench package: pip install 'opscore[bench]'") from None
    try:
        return create(str(path), "tss", fast_mode=True, verbose=False)
    except Exception as e:  # the API reports a bad archive with assorted exception types
        raise BenchmarkError(f"cannot open NATS-Bench archive {path}: {type(e).__name__}: {e}") from None


class NatsBenchmark:
    """Test and validation accuracy on CIFAR-10, CIFAR-100 and ImageNet16-120 (200 epochs, mean over seeds).

    `api` replaces the official API object (tests, programmatic use); it needs `query_index_by_arch` and
    `get_more_info(index, dataset, hp=..., is_random=...)`.
    """

    spaces = ("nb201",)
    metrics = tuple(metric_name(_DATASET[d], split) for d, _, split in QUERIES)

    def __init__(self, path: str | Path, api: Any = None,
                 create_api: Callable[[Path], Any] = _create_api) -> None:
        self.path = Path(path)
        self.source = f"nats_bench {self.path} (tss, hp=200, mean over seeds)"
        if api is None:
            check_archive(self.path)
            api = create_api(self.path)
        self.api = api

    def _index(self, arch: str) -> int:
        try:
            idx = int(self.api.query_index_by_arch(arch))
        except Exception as e:  # an arch string the API cannot parse
            raise BenchmarkError(f"arch {arch} is not in NATS-Bench ({type(e).__name__}: {e})") from None
        if idx < 0:
            raise BenchmarkError(f"arch {arch} is not in NATS-Bench archive {self.path}")
        return idx

    def lookup(self, arch: str) -> dict[str, float]:
        """Every accuracy of `arch` in percent; an arch or result missing from the archive is one line."""
        idx = self._index(arch)
        out: dict[str, float] = {}
        infos: dict[str, dict[str, Any]] = {}
        for dataset, key, split in QUERIES:
            if dataset not in infos:
                try:
                    infos[dataset] = self.api.get_more_info(idx, dataset, hp="200", is_random=False)
                except Exception as e:  # fast mode asserts that the per-arch file exists
                    raise BenchmarkError(f"NATS-Bench archive {self.path} has no 200-epoch {dataset} results for "
                                         f"arch {arch} (index {idx}): {type(e).__name__}: {e}") from None
            if key in infos[dataset]:
                out[metric_name(_DATASET[dataset], split)] = float(infos[dataset][key])
        return out


@dataclass
class NatsSettings(MetricSettings):
    """The NATS-Bench source's archive."""

    nats_bench: str | None = setting(None, "NATS-Bench topology folder NATS-tss-v1_0-3ffb9-simple (nb201; needs "
                                           "opscore[bench]); 200-epoch results, mean over seeds", path=True)


@BENCHMARKS.register("nats-bench")
class NatsSource:
    """NATS-Bench's topology archive (`--nats-bench`)."""

    Settings = NatsSettings

    @staticmethod
    def open(settings: Any, space: str | None) -> NatsBenchmark | None:
        if not settings.nats_bench:
            return None
        check_space(NatsBenchmark.spaces, "NATS-Bench (--nats-bench)", space)
        return NatsBenchmark(settings.nats_bench)
