"""The bad-input drill (issue 19): every command, given a bad input, a damaged run directory or a hostile
environment, exits non-zero with one clear line on stderr (the last one, naming the problem; no traceback) and
leaves the files a run directory already held unchanged.

Each case builds its own tiny inputs (synthetic data, 8 px JPEG folders, one-cell networks) and runs the
`opscore` entry point in-process; finished runs that cases damage are made once per module and copied.
"""
from __future__ import annotations

import errno
import hashlib
import io
import itertools
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest
import torch
from PIL import Image

import runtime.io as rio
from search.cli import main as opscore

NB201 = "|nor_conv_3x3~0|+|none~0|skip_connect~1|+|none~0|none~1|avg_pool_3x3~2|"
SYN = ["--dataset", "synthetic"]
NO_GPU = not torch.cuda.is_available()
ROOT = os.geteuid() == 0 if hasattr(os, "geteuid") else False

# tiny settings of each command (synthetic data unless the case says otherwise)
SAMPLER = ["search", "--space", "nb201", "--channels", "4", "--cells", "1", "--val-channels", "4", "--val-cells", "1",
           "--batch-size", "8", "--device", "cpu", "--no-progress"]  # a search without zcpt's budget (naswot, ...)
SEARCH = [*SAMPLER, "-N", "2", "-V", "1"]
TRAIN = ["train", "--genotype", NB201, "--set", "synthetic_size=16", "--image-size", "8", "--channels", "2",
         "--cells", "1", "--epochs", "1", "--batch-size", "8", "--workers", "0", "--device", "cpu", "--no-progress"]
SUPERNET = ["train-supernet", "--space", "nb201", "--channels", "2", "--cells", "1", "--epochs", "1",
            "--batch-size", "16", "--eval-batches", "1", "--device", "cpu", "--no-progress"]
PROXIES = ["proxies", "--space", "nb201", "--sample", "2", "--proxies", "params", "--batch-size", "4",
           "--channels", "2", "--cells", "1", "--device", "cpu", "--no-progress"]
OP_SCORING = ["analyze", "op-scoring", "--space", "nb201", "--proxies", "params", "--scorers", "zc-pt", "--seeds", "0",
              "--batch-size", "4", "--channels", "2", "--cells", "1", "--no-darts-alpha", "--device", "cpu",
              "--no-progress"]
FEAR = ["fear-threshold", "--epochs", "1"]


# ---------------------------------------------------------------------------------------------- fixtures
def _jpeg(shade: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (shade, 255 - shade, (7 * shade) % 256)).save(buf, "JPEG")
    return buf.getvalue()


BAD_IMAGES = {"zero-byte": b"", "text-as-jpg": b"this is not an image\n", "truncated": _jpeg(3)[:-40]}


def image_folder(root: Path, bad: bytes | None = None) -> Path:
    """root/train and root/test, 2 classes of 4 good 8 px JPEGs; `bad` as train/a/bad.jpg."""
    for split in ("train", "test"):
        for c, cls in enumerate("ab"):
            d = root / split / cls
            d.mkdir(parents=True, exist_ok=True)
            for i in range(4):
                (d / f"{i}.jpg").write_bytes(_jpeg(40 * i + 100 * c))
    if bad is not None:
        (root / "train" / "a" / "bad.jpg").write_bytes(bad)
    return root


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> dict[str, Path]:
    """Things several cases share, made once: finished runs of search, train and train-supernet, an NB201 table."""
    base = tmp_path_factory.mktemp("drill")
    from supernet.spaces.nb201 import NB201_OPS, NB201Genotype
    table = base / "nb201.csv"
    rows = [f"{NB201Genotype(ops).arch_str()},{(i * 37) % 1000 / 10:.1f}"
            for i, ops in enumerate(itertools.product(NB201_OPS, repeat=6))]
    table.write_text("arch,cifar10_test_acc\n" + "\n".join(rows) + "\n")
    runs = {"search": [*SEARCH, *SYN], "train": [*TRAIN, *SYN], "supernet": [*SUPERNET, *SYN]}
    out = {"table": table}
    for name, argv in runs.items():
        out[name] = base / name
        assert opscore([*argv, "--out", str(out[name])]) == 0, name
    return out


# ---------------------------------------------------------------------------------------------- outcome
def _hashes(run: Path | None) -> dict[str, str]:
    if run is None or not run.is_dir():
        return {}
    return {str(p.relative_to(run)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(run.rglob("*")) if p.is_file()}


def run_cli(argv: list[str], capsys) -> tuple[int | None, str, str]:
    """Exit status (None when an exception escaped: the user would see a traceback), the last non-empty stderr
    line, and the outcome class: 'clear', 'traceback' or 'silent' (exit 0) or 'unclear'."""
    try:
        code: int | None = opscore(argv)
    except SystemExit as e:  # argparse's own errors
        code = int(e.code) if isinstance(e.code, int) else 2
    except Exception as e:  # noqa: BLE001 - this is what the drill looks for
        captured = capsys.readouterr()
        return None, f"{type(e).__name__}: {e}", "traceback"
    captured = capsys.readouterr()
    lines = [l for l in captured.err.splitlines() if l.strip()]
    last = lines[-1] if lines else ""
    if "Traceback" in captured.err + captured.out:
        return code, last, "traceback"
    if code == 0:
        return code, last, "silent"
    return code, last, "clear" if last.startswith("opscore") else "unclear"


@dataclass
class Case:
    """One bad input: `argv(tmp, made)` gives the command line (after preparing files); `needle` must be in the
    one line; `run` names the run directory whose files must stay as they were (relative to tmp)."""

    argv: Callable[[Path, dict], list[str]]
    needle: str
    run: str | None = None
    skip: str | None = None
    patch: Callable[[pytest.MonkeyPatch], None] | None = None
    also: Callable[[Path], None] | None = field(default=None)  # further checks after the run


def copied(made: dict, name: str, tmp: Path, unfinish: bool = True) -> Path:
    """A copy of the module's finished run `name` in tmp/run, without result.json (as if killed) by default."""
    dst = tmp / "run"
    shutil.copytree(made[name], dst)
    for settings in ("config.yaml", "recipe.yaml"):  # the copy's own --out, as if the run had been made there
        if (dst / settings).exists():
            (dst / settings).write_text((dst / settings).read_text().replace(str(made[name]), str(dst)))
    if unfinish:
        (dst / "result.json").unlink()
    return dst


def damage(path: Path, how: str) -> None:
    """Truncate the file to half, empty it, replace it by text, or by valid JSON of the wrong shape."""
    data = path.read_bytes()
    path.write_bytes({"truncated": data[: len(data) // 2], "empty": b"", "text": b"\x00garbage \xff\n",
                      "wrong-shape": b'{"unexpected": [1, 2, 3]}\n', "wrong-rows": b'[1, 2]\n'}[how])


def resume_damaged(cmd: str, argv: list[str], name: str, how: str, steps: bool = False) -> Callable:
    """--resume of a killed `cmd` run whose file `name` is damaged `how`."""
    def build(tmp: Path, made: dict) -> list[str]:
        run = copied(made, cmd, tmp)
        if steps:  # killed in iteration 1: one finished proposal and the step checkpoint of the next
            first = json.loads((run / "proposals.json").read_text())[:1]
            (run / "proposals.json").write_text(json.dumps(first))
            (run / "proposal_steps.json").write_text('{"iteration": 1, "steps": []}\n')
        damage(run / name, how)
        return [*argv, *SYN, "--out", str(run), "--resume"]
    return build


def with_images(argv: list[str], kind: str, run: bool = True) -> Callable:
    def build(tmp: Path, made: dict) -> list[str]:
        root = image_folder(tmp / "images", BAD_IMAGES[kind])
        table = ["--benchmark-table", str(made["table"])] if argv[0] in ("proxies", "analyze") else []
        return [*argv, *table, "--dataset", "imagefolder", "--data-root", str(root),
                *(["--out", str(tmp / "run")] if run else [])]
    return build


def plain(argv: list[str], out: bool = True, table: bool = False) -> Callable:
    def build(tmp: Path, made: dict) -> list[str]:
        extra = ["--benchmark-table", str(made["table"])] if table else []
        return [*argv, *extra, *(["--out", str(tmp / "run")] if out else [])]
    return build


def yaml_config(cmd: list[str], text: str) -> Callable:
    def build(tmp: Path, made: dict) -> list[str]:
        (tmp / "c.yaml").write_text(text)
        return [cmd[0], "--config", str(tmp / "c.yaml"), *cmd[1:], *SYN, "--out", str(tmp / "run")]
    return build


def out_is_file(argv: list[str], table: bool = False) -> Callable:
    def build(tmp: Path, made: dict) -> list[str]:
        (tmp / "run").write_text("my notes\n")
        extra = ["--benchmark-table", str(made["table"])] if table else []
        return [*argv, *extra, "--out", str(tmp / "run")]
    return build


def out_read_only(argv: list[str], inside: bool) -> Callable:
    """--out below a read-only folder (`inside`: --out is that folder itself, empty)."""
    def build(tmp: Path, made: dict) -> list[str]:
        ro = tmp / "ro"
        ro.mkdir()
        ro.chmod(0o555)
        return [*argv, *SYN, "--out", str(ro if inside else ro / "run")]
    return build


def failing_writes(code: int) -> Callable[[pytest.MonkeyPatch], None]:
    """Every atomic write fails with OSError `code` after its temporary file exists (ENOSPC: a full file system;
    EROFS: a read-only one, which permissions cannot simulate for root)."""
    def patch(monkeypatch: pytest.MonkeyPatch) -> None:
        real = rio.atomic_write

        def fails(path, write):
            def fail(f):
                raise OSError(code, os.strerror(code))
            real(path, fail)
        monkeypatch.setattr(rio, "atomic_write", fails)
    return patch


def table_file(tmp: Path, text: str) -> Path:
    p = tmp / "t.csv"
    p.write_text(text)
    return p


def finished_search(tmp: Path, made: dict) -> Path:
    return copied(made, "search", tmp, unfinish=False)


def _lookup_bad_table(text: str) -> Callable:
    def build(tmp: Path, made: dict) -> list[str]:
        run = finished_search(tmp, made)
        return ["lookup", str(run), "--benchmark-table", str(table_file(tmp, text))]
    return build


def _lookup_damaged_result(tmp: Path, made: dict) -> list[str]:
    run = finished_search(tmp, made)
    damage(run / "result.json", "truncated")
    return ["lookup", str(run), "--benchmark-table", str(made["table"])]


def _report_damaged(tmp: Path, made: dict) -> list[str]:
    run = finished_search(tmp, made)
    damage(run / "result.json", "text")
    return ["report", str(run), "--out", str(tmp / "report")]


def _report_out_file(tmp: Path, made: dict) -> list[str]:
    run = finished_search(tmp, made)
    (tmp / "report").write_text("x\n")
    return ["report", str(run), "--out", str(tmp / "report")]


def _resume_damaged(kind: str, command: list[str], name: str, how: str) -> Callable:
    """A copy of the finished `kind` run with `name` damaged `how`, resumed by `command`."""
    def build(tmp: Path, made: dict) -> list[str]:
        run = copied(made, kind, tmp)
        damage(run / name, how)
        return [*command, *SYN, "--out", str(run), "--resume"]
    return build


def _train_resume_damaged(name: str, how: str) -> Callable:
    return _resume_damaged("train", TRAIN, name, how)


def _supernet_resume_damaged(name: str, how: str) -> Callable:
    return _resume_damaged("supernet", SUPERNET, name, how)


def _proxies_resume_damaged(how: str) -> Callable:
    def build(tmp: Path, made: dict) -> list[str]:
        run = tmp / "run"
        run.mkdir()
        (run / "progress.jsonl").write_text("")
        (run / "config.yaml").write_text("space: nb201\n")
        damage(run / "config.yaml", how)
        return [*PROXIES, *SYN, "--benchmark-table", str(made["table"]), "--out", str(run), "--resume"]
    return build


CASES: dict[str, Case] = {}

# -- data: an unreadable image among the images, every command that reads an image folder
for kind in BAD_IMAGES:
    CASES[f"data-search-{kind}"] = Case(with_images(SEARCH, kind), "bad.jpg cannot be read")
CASES["data-train"] = Case(with_images(TRAIN, "truncated"), "bad.jpg cannot be read")
CASES["data-train-supernet"] = Case(with_images(SUPERNET, "text-as-jpg"), "bad.jpg cannot be read")
CASES["data-proxies"] = Case(with_images(PROXIES, "zero-byte"), "bad.jpg cannot be read")
CASES["data-op-scoring"] = Case(with_images(OP_SCORING, "truncated"), "bad.jpg cannot be read")
CASES["data-fear-threshold"] = Case(with_images(FEAR, "text-as-jpg", run=False), "bad.jpg cannot be read")
CASES["data-root-missing"] = Case(plain([*SEARCH, "--dataset", "imagefolder", "--data-root", "/nonexistent/x"]),
                                  "does not exist")
CASES["data-root-empty"] = Case(lambda tmp, made: [*SEARCH, "--dataset", "imagefolder", "--data-root",
                                                   str((tmp / "empty").mkdir() or tmp / "empty"),
                                                   "--out", str(tmp / "run")], "no train/ folder")

# -- run directories: --resume with a damaged file (a killed run: no result.json)
for name, hows in {"proposals.json": ("truncated", "text", "wrong-shape", "wrong-rows"),
                   "validation.json": ("truncated", "wrong-rows"),
                   "decisions.jsonl": ("truncated", "text", "wrong-rows"),
                   "config.yaml": ("text", "wrong-rows")}.items():
    for how in hows:
        CASES[f"resume-search-{name}-{how}"] = Case(resume_damaged("search", SEARCH, name, how), name, run="run")
for how in ("truncated", "text", "wrong-shape", "wrong-rows"):
    CASES[f"resume-search-proposal_steps.json-{how}"] = Case(
        resume_damaged("search", SEARCH, "proposal_steps.json", how, steps=True), "proposal_steps.json", run="run")
for how in ("truncated", "empty", "text"):
    CASES[f"resume-train-last.pt-{how}"] = Case(_train_resume_damaged("checkpoints/last.pt", how), "last.pt",
                                                run="run")
CASES["resume-train-recipe.yaml"] = Case(_train_resume_damaged("recipe.yaml", "wrong-rows"), "recipe.yaml",
                                              run="run")
CASES["resume-train-supernet-checkpoint.pt"] = Case(_supernet_resume_damaged("checkpoint.pt", "truncated"),
                                                    "checkpoint.pt", run="run")
CASES["resume-train-supernet-config.yaml"] = Case(_supernet_resume_damaged("config.yaml", "text"), "config.yaml",
                                                  run="run")
CASES["resume-proxies-config.yaml"] = Case(_proxies_resume_damaged("text"), "config.yaml", run="run")
CASES["resume-search-settings-differ"] = Case(
    lambda tmp, made: [*SEARCH, *SYN, "--seed", "5", "--out", str(copied(made, "search", tmp)), "--resume"],
    "settings differ (seed)", run="run")
CASES["rerun-without-resume"] = Case(lambda tmp, made: [*SEARCH, *SYN, "--out", str(copied(made, "search", tmp))],
                                     "pass --resume", run="run")

# -- environment
for cmd, argv, table in (("search", SEARCH, False), ("train", TRAIN, False), ("train-supernet", SUPERNET, False),
                         ("proxies", PROXIES, True), ("op-scoring", OP_SCORING, True)):
    CASES[f"env-{cmd}-cuda"] = Case(plain([*argv, *SYN, "--device", "cuda"], table=table), "no CUDA device",
                                    skip="a GPU is present" if not NO_GPU else None)
    CASES[f"env-{cmd}-tpu"] = Case(plain([*argv, *SYN, "--device", "tpu"], table=table), "'tpu' is not a device")
    CASES[f"env-{cmd}-out-is-file"] = Case(out_is_file([*argv, *SYN], table=table), "is a file")
for cmd, argv in (("search", SEARCH), ("train", TRAIN), ("train-supernet", SUPERNET)):
    for inside in (False, True):
        CASES[f"env-{cmd}-out-read-only{'-itself' if inside else ''}"] = Case(
            out_read_only(argv, inside), "permission denied", skip="root ignores permissions" if ROOT else None)
    CASES[f"env-{cmd}-disk-full"] = Case(plain([*argv, *SYN]), "no space left", patch=failing_writes(errno.ENOSPC))
    CASES[f"env-{cmd}-read-only-fs"] = Case(plain([*argv, *SYN]), "read-only file system",
                                            patch=failing_writes(errno.EROFS))

# -- types and ranges, in YAML and flags
for text, needle in (('iterations: "three"\n', "iterations"), ("iterations: 1.7\n", "iterations"),
                     ("seed: null\n", "seed"), ('channels_last: "no"\n', "channels_last"),
                     ("no_such_setting: 1\n", "no_such_setting"), ("- just\n- a list\n", "mapping"),
                     ("iterations: [1\n", "c.yaml")):
    CASES[f"yaml-search-{text.split(':')[0].strip('- ')}-{len(text)}"] = Case(yaml_config(SEARCH, text), needle)
CASES["yaml-train-supernet-epochs"] = Case(yaml_config(SUPERNET, "epochs: ten\n"), "epochs")
for argv, flag, value, needle in (
        (SEARCH, "--seed", "-1", "seed must be at least 0"), (SEARCH, "--seed", str(2 ** 64), "seed must be at most"),
        (SEARCH, "--channels", "-8", "channels must be at least 1"), (SEARCH, "--channels", "0", "channels"),
        (SEARCH, "--cells", "0", "cells"), (SEARCH, "--val-channels", "0", "val_channels"),
        (TRAIN, "--image-size", "0", "image_size"), (SEARCH, "-N", "three", "-N/--iterations"),
        (SUPERNET, "--epochs", "0", "epochs"), (PROXIES, "--sample", "1", "--sample"), (FEAR, "--epochs", "0", "epochs"),
        (TRAIN, "--set", "epochs=2.5", "epochs"), (TRAIN, "--set", "nonsense", "--set")):
    CASES[f"range-{argv[0]}{flag}={value}"] = Case(plain([*argv, *SYN, flag, value], out=argv is not FEAR,
                                                         table=argv is PROXIES), needle)

# -- benchmark tables (formerly silently wrong: no accuracy column, duplicate rows or columns)
CASES["table-no-accuracy-column"] = Case(_lookup_bad_table(f"arch\n{NB201}\n"), "t.csv")
CASES["table-duplicate-rows"] = Case(_lookup_bad_table(f"arch,acc\n{NB201},1.0\n{NB201},2.0\n"), "t.csv")
CASES["table-duplicate-columns"] = Case(_lookup_bad_table(f"arch,acc,acc\n{NB201},1.0,2.0\n"), "t.csv")
CASES["table-binary"] = Case(_lookup_bad_table("\x00\x01\x02"), "t.csv")

# -- every other subcommand at least once
CASES["list-extra-argument"] = Case(lambda tmp, made: ["list", "spaces"], "unrecognized arguments")
CASES["lookup-no-run"] = Case(lambda tmp, made: ["lookup", str(tmp / "nowhere"), "--benchmark-table",
                                                 str(made["table"])], "nowhere")
CASES["lookup-damaged-result"] = Case(_lookup_damaged_result, "result.json", run="run")
CASES["lookup-unfinished-run"] = Case(lambda tmp, made: ["lookup", str(copied(made, "search", tmp)),
                                                         "--benchmark-table", str(made["table"])], "result.json",
                                      run="run")
CASES["lookup-no-source"] = Case(lambda tmp, made: ["lookup", str(finished_search(tmp, made))], "--benchmark-table",
                                 run="run")
CASES["report-no-run"] = Case(lambda tmp, made: ["report", str(tmp / "nowhere"), "--out", str(tmp / "rep")],
                              "nowhere")
CASES["report-damaged-result"] = Case(_report_damaged, "result.json", run="run")
CASES["report-out-is-file"] = Case(_report_out_file, "report", run="run")
CASES["describe-bad-genotype"] = Case(lambda tmp, made: ["describe", "--space", "nb201", "--genotype", "|nope~0|"],
                                      "nope")
CASES["describe-wrong-space"] = Case(lambda tmp, made: ["describe", "--space", "darts", "--genotype", NB201],
                                     "genotype")
CASES["describe-no-genotype"] = Case(lambda tmp, made: ["describe", "--space", "nb201"], "--genotype")
CASES["train-genotype-file-missing"] = Case(plain(["train", "--genotype", "/nonexistent/g.txt", *TRAIN[3:], *SYN]),
                                            "g.txt")
CASES["op-scoring-no-table"] = Case(plain([*OP_SCORING, *SYN]), "--benchmark-table")
CASES["proxies-table-of-other-space"] = Case(
    lambda tmp, made: [*PROXIES, *SYN, "--benchmark-table", str(table_file(tmp, "arch,acc\n12345678,1\n87654321,2\n")),
                       "--out", str(tmp / "run")], "nb201 arch string")
CASES["fear-threshold-no-data-root"] = Case(plain([*FEAR, "--dataset", "imagefolder"], out=False), "--data-root")
CASES["search-scorer-needs-supernet"] = Case(plain([*SEARCH, *SYN, "--scorer", "darts-alpha"]), "--supernet")
CASES["search-supernet-damaged"] = Case(
    lambda tmp, made: [*SEARCH, *SYN, "--scorer", "darts-alpha",
                       "--supernet", str(table_file(tmp, "not a checkpoint")), "--out", str(tmp / "run")], "t.csv")

def _identical_images(strategy: list[str]) -> Callable:
    """A folder whose images are all the same grey: no proxy can tell candidates apart."""
    def build(tmp: Path, made: dict) -> list[str]:
        for c in "ab":
            (tmp / "same" / c).mkdir(parents=True)
            for i in range(4):
                Image.new("RGB", (8, 8), (90, 90, 90)).save(tmp / "same" / c / f"{i}.png")
        return [*(SAMPLER if strategy else SEARCH), *strategy, "--dataset", "imagefolder", "--data-root",
                str(tmp / "same"), "--batch-size", "4",
                "--out", str(tmp / "run")]
    return build


# -- formerly silent: every candidate -inf on images that carry no information (exit 4, one line)
CASES["silent-identical-images-zcpt"] = Case(_identical_images([]), "no signal")
CASES["silent-identical-images-naswot"] = Case(_identical_images(["--strategy", "naswot", "--samples", "2"]),
                                               "no signal")


def _with_file(name: str, data: bytes, argv: Callable[[Path, Path], list[str]]) -> Callable:
    """Write `data` to tmp/`name`, then the command line `argv(tmp, that file)`."""
    def build(tmp: Path, made: dict) -> list[str]:
        (tmp / name).write_bytes(data)
        return argv(tmp, tmp / name)
    return build


def _report_result(edit: Callable[[dict], object]) -> Callable:
    """opscore report of a finished search whose result.json is replaced by `edit(result)`."""
    def build(tmp: Path, made: dict) -> list[str]:
        run = finished_search(tmp, made)
        result = json.loads((run / "result.json").read_text())
        (run / "result.json").write_text(json.dumps(edit(result)))
        return ["report", str(run), "--out", str(tmp / "report")]
    return build


def _proposals_from(how: str) -> Callable:
    def build(tmp: Path, made: dict) -> list[str]:
        src = copied(made, "search", tmp, unfinish=False)
        damage(src / "proposals.json", how)
        return [*SEARCH, *SYN, "--proposals-from", str(src), "--out", str(tmp / "new")]
    return build


# -- found by the drill beyond the list
CASES["config-not-utf8"] = Case(_with_file("c.yaml", b"\xff\xfe\x00\x01", lambda tmp, f: [
    *SEARCH, *SYN, "--config", str(f), "--out", str(tmp / "run")]), "not UTF-8")
CASES["config-is-a-folder"] = Case(lambda tmp, made: [*SEARCH, *SYN, "--config", str(tmp), "--out", str(tmp / "run")],
                                   "is a folder")
CASES["recipe-not-utf8"] = Case(_with_file("r.yaml", b"\xff\xfe", lambda tmp, f: [
    *TRAIN, *SYN, "--recipe", str(f), "--out", str(tmp / "run")]), "not UTF-8")
CASES["score-cache-is-a-folder"] = Case(lambda tmp, made: [*SAMPLER, *SYN, "--strategy", "naswot", "--samples", "2",
                                                           "--score-cache", str(tmp), "--out", str(tmp / "run")],
                                        "is a folder")
CASES["data-root-is-a-file"] = Case(lambda tmp, made: [*SEARCH, "--dataset", "imagefolder", "--data-root",
                                                       str(made["table"]), "--out", str(tmp / "run")], "is a file")
CASES["range-train-supernet--lr=nan"] = Case(plain([*SUPERNET, *SYN, "--lr", "nan"]), "lr must be a number")
CASES["range-search--val-lr=nan"] = Case(plain([*SEARCH, *SYN, "--validator", "tse", "--val-lr", "nan"]), "val_lr")
CASES["range-train--cutout=-5"] = Case(plain([*TRAIN, *SYN, "--cutout", "-5"]), "cutout must be at least 0")
CASES["report-result-not-a-mapping"] = Case(_report_result(lambda r: [1, 2]), "mapping", run="run")
CASES["report-seconds-not-a-number"] = Case(_report_result(lambda r: {**r, "seconds": "abc"}), "seconds", run="run")
CASES["report-benchmark-not-a-mapping"] = Case(_report_result(lambda r: {**r, "benchmark": [1]}), "benchmark",
                                               run="run")
CASES["proposals-from-damaged"] = Case(_proposals_from("truncated"), "proposals.json", run="run")
CASES["proposals-from-wrong-shape"] = Case(_proposals_from("wrong-shape"), "proposals.json", run="run")
CASES["proposals-from-a-file"] = Case(lambda tmp, made: [*SEARCH, *SYN, "--proposals-from", str(made["table"]),
                                                         "--out", str(tmp / "run")], "not a search run directory")
CASES["train-genotype-run-damaged"] = Case(
    lambda tmp, made: (damage(finished_search(tmp, made) / "result.json", "truncated"),
                       ["train", "--genotype", str(tmp / "run"), *TRAIN[3:], *SYN, "--out", str(tmp / "new")])[1],
    "result.json", run="run")
CASES["train-genotype-code"] = Case(plain(["train", "--genotype", "__import__('os').system('true')", *TRAIN[3:], *SYN]),
                                    "cannot read genotype")


@pytest.mark.slow_params('data-search-zero-byte', 'silent-identical-images-zcpt')
@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_is_one_clear_line(name, tmp_path, made, capsys, monkeypatch):
    case = CASES[name]
    if case.skip:
        pytest.skip(case.skip)
    argv = case.argv(tmp_path, made)
    run = tmp_path / case.run if case.run else None
    before = _hashes(run)
    if case.patch:
        case.patch(monkeypatch)
    try:
        code, line, outcome = run_cli(argv, capsys)
    finally:
        for p in (tmp_path / "ro",):
            if p.exists():
                p.chmod(0o755)
    assert outcome == "clear", f"outcome={outcome} code={code} line={line!r}"
    assert case.needle.lower() in line.lower(), f"outcome=unclear line={line!r} lacks {case.needle!r}"
    after = _hashes(run)
    changed = [k for k, v in before.items() if after.get(k) != v]
    assert not changed, f"outcome=damaging files changed: {changed}"
    assert not [p for p in tmp_path.rglob("*.tmp")], "a temporary file was left behind"


@pytest.mark.slow_params('op-scoring')
@pytest.mark.parametrize("argv", [PROXIES, OP_SCORING, FEAR], ids=["proxies", "op-scoring", "fear-threshold"])
def test_bad_images_skip_is_honoured(argv, tmp_path, made, capsys, caplog):
    """Every command that reads an image folder takes --bad-images: skip leaves the bad file out with a warning."""
    build = with_images(argv, "truncated", run=argv is not FEAR)
    code = opscore([*build(tmp_path, made), "--bad-images", "skip"])
    assert code == 0, capsys.readouterr().err
    assert any("bad.jpg" in r.getMessage() and r.levelname == "WARNING" for r in caplog.records)


@pytest.mark.parametrize("cmd,name", [("supernet", "history.jsonl"), ("train", "metrics.jsonl")])
def test_resume_rewrites_a_damaged_journal_from_the_checkpoint(cmd, name, tmp_path, made, capsys):
    """history.jsonl / metrics.jsonl are derived from the checkpoint: a damaged copy is rewritten, not trusted
    (train-supernet formerly kept it damaged and exited 0)."""
    run = copied(made, cmd, tmp_path)
    good = (run / name).read_text()
    damage(run / name, "truncated")
    argv = SUPERNET if cmd == "supernet" else TRAIN
    assert opscore([*argv, *SYN, "--out", str(run), "--resume"]) == 0, capsys.readouterr().err
    assert (run / name).read_text() == good


@pytest.mark.slow
def test_resume_of_a_mistyped_out_says_nothing_was_found(tmp_path, made, capsys, caplog):
    """--resume on a folder holding no run warns that nothing was found to resume, then starts afresh."""
    assert opscore([*SEARCH, *SYN, "--out", str(tmp_path / "typo"), "--resume"]) == 0
    assert any("nothing to resume" in r.getMessage() for r in caplog.records)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["resume-search-proposals.json-wrong-shape", "data-search-truncated",
                                  "env-search-tpu"])
def test_as_a_process_the_last_stderr_line_is_the_error(name, tmp_path, made):
    """In a real process (log lines on stderr too) the error is still the last line and nothing is a traceback."""
    import subprocess
    import sys
    argv = CASES[name].argv(tmp_path, made)
    proc = subprocess.run([sys.executable, "-m", "search", *argv], capture_output=True, text=True,
                          env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=120)
    lines = [l for l in proc.stderr.splitlines() if l.strip()]
    assert proc.returncode == 2 and "Traceback" not in proc.stderr + proc.stdout, proc.stderr
    assert lines[-1].startswith("opscore search: error: ") and CASES[name].needle.lower() in lines[-1].lower()
