"""NAS-Bench-301 surrogate worker: predicts DARTS genotypes with the `nasbench301` package.

It needs only the standard library and nasbench301, so it runs under the python of a separate
environment that holds the package and its pinned dependencies (the package does not install beside a
current torch):

    NB301_PYTHON search/benchmarks/nb301_worker.py < request.json

Request (JSON on stdin): {"models": DIR, "noise": false, "genotypes": [GENOTYPE, ...]}, where GENOTYPE
is opscore's JSON form of a DARTS genotype ({"normal": [[op, input], ...], "normal_concat": [...],
"reduce": ..., "reduce_concat": ...}); with no genotypes it only loads the surrogate (a check).
Answer (one JSON line on stdout): {"predictions": [accuracy, ...], "version": V} or {"error": "one line"}
with exit status 1. opscore imports the same functions when nasbench301 is installed beside it.
"""
import json
import os
import sys
from collections import namedtuple

# the DARTS genotype as nasbench301 reads it (its own namedtuple of the same name and fields)
Genotype = namedtuple("Genotype", "normal normal_concat reduce reduce_concat")
NB301_OPS = ("max_pool_3x3", "avg_pool_3x3", "skip_connect", "sep_conv_3x3", "sep_conv_5x5", "dil_conv_3x3",
             "dil_conv_5x5")


class WorkerError(Exception):
    """A request the surrogate cannot answer (package, files, genotype); the message is one line."""


def to_nb301_genotype(data):
    """nasbench301's Genotype of a DARTS genotype in opscore's JSON form; ops outside NB301's space fail."""
    try:
        cells = {}
        for cell in ("normal", "reduce"):
            pairs = [(str(op), int(j)) for op, j in data[cell]]
            bad = [op for op, _ in pairs if op not in NB301_OPS]
            if bad:
                raise WorkerError("op {!r} of the {} cell is not in NAS-Bench-301's space ({})".format(
                    bad[0], cell, ", ".join(NB301_OPS)))
            if len(pairs) != 8:
                raise WorkerError("NAS-Bench-301 needs 4 nodes of 2 inputs per cell; the {} cell has {} "
                                  "pairs".format(cell, len(pairs)))
            cells[cell] = pairs
            cells[cell + "_concat"] = [int(c) for c in data[cell + "_concat"]]
    except (KeyError, TypeError, ValueError) as e:
        raise WorkerError("not a DARTS genotype in JSON form ({}: {})".format(type(e).__name__, e))
    return Genotype(**cells)


def load_surrogate(models):
    """The surrogate ensemble of folder `models` (nasbench301.load_ensemble); every failure is one line."""
    try:
        import nasbench301 as nb
    except ImportError as e:
        raise WorkerError("nasbench301 is not installed in {} ({}); install it there or pass the python of "
                          "the environment that has it (--nb301-python)".format(sys.executable, e))
    version = getattr(nb, "__version__", "unknown")
    if not hasattr(nb, "load_ensemble"):
        raise WorkerError("nasbench301 {} has no load_ensemble; install nasbench301 0.2 or later "
                          "(github.com/automl/nasbench301)".format(version))
    if not os.path.isdir(models) or not os.listdir(models):
        raise WorkerError("NAS-Bench-301 model folder {} is missing or empty; download the models (e.g. "
                          "nb_models_1.0/xgb_v1.0) and pass that folder".format(models))
    try:
        return nb.load_ensemble(models)
    except Exception as e:  # the package reports unreadable model files with assorted types
        raise WorkerError("cannot load the NAS-Bench-301 surrogate from {} with nasbench301 {} ({}: {})".format(
            models, version, type(e).__name__, str(e).splitlines()[0] if str(e) else ""))


def predict(surrogate, genotypes, noise):
    """The surrogate's CIFAR-10 accuracy of each genotype; `noise` picks a noisy sample over the mean."""
    out = []
    for g in genotypes:
        value = surrogate.predict(config=to_nb301_genotype(g), representation="genotype", with_noise=bool(noise))
        out.append(float(value))
    return out


def answer(request):
    """The reply to one request (see the module docstring)."""
    surrogate = load_surrogate(str(request["models"]))
    preds = predict(surrogate, request.get("genotypes") or [], request.get("noise", False))
    import nasbench301
    return {"predictions": preds, "version": getattr(nasbench301, "__version__", "unknown")}



def _answer(reply: dict) -> None:
    """The worker's one line of JSON on stdout (its answer to opscore)."""
    sys.stdout.write(json.dumps(reply) + "\n")

def main():
    """Read one request on stdin, write one JSON line on stdout."""
    try:
        request = json.loads(sys.stdin.read())
        reply = answer(request)
    except WorkerError as e:
        _answer({"error": str(e)})
        return 1
    except Exception as e:  # never a traceback on the other side: one line that names the type
        _answer({"error": "{}: {}".format(type(e).__name__, str(e).splitlines()[0] if str(e) else "")})
        return 1
    _answer(reply)
    return 0


if __name__ == "__main__":
    sys.exit(main())
