"""The benchmark scripts keep working: proposal_vs.py times our proposal iteration against another command and
reports the ratio of the medians; train_step.py and gpu_checks.sh run; bad names are one line."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "proposal_vs.py"


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})


@pytest.mark.slow
def test_ours_against_a_command_that_reports_its_times():
    """The other side prints two iteration times (3 s and 5 s): its median is 4 s; ours is measured for real."""
    out = _run("--space", "nb201", "--batch-size", "4", "--repeats", "1", "--iterations", "1",
               "--theirs", "echo 'iteration took 3.0 s'; echo 'iteration took 5.0 s'",
               "--theirs-regex", r"took ([0-9.]+) s")
    assert out.returncode == 0, out.stderr
    ours = float(re.search(r"ours\s+([0-9.]+) s", out.stdout).group(1))
    assert re.search(r"theirs\s+4\.00 s\s+\(3\.00-5\.00, 2 values\)", out.stdout)
    ratio = float(re.search(r"theirs / ours = ([0-9.]+)x", out.stdout).group(1))
    assert ours > 0 and abs(ratio - 4.0 / ours) <= 0.01 * ratio + 0.01


def test_a_regex_without_a_command_is_one_line():
    out = _run("--theirs-regex", "x")
    assert out.returncode != 0 and "Traceback" not in out.stderr
    assert out.stderr.strip().splitlines() == ["proposal_vs: --theirs-regex needs --theirs (the command whose "
                                               "output it reads)"]


@pytest.mark.slow
def test_a_regex_that_matches_nothing_is_one_line():
    out = _run("--batch-size", "4", "--repeats", "1", "--iterations", "1", "--theirs", "echo nothing",
               "--theirs-regex", r"took ([0-9.]+) s")
    assert out.returncode != 0 and "Traceback" not in out.stderr
    assert "matched nothing" in out.stderr.strip().splitlines()[-1]


TRAIN_STEP = SCRIPT.parent / "train_step.py"


@pytest.mark.slow
def test_train_step_reports_images_per_second_of_the_recipe_network():
    """One token stands for every MobileNet layer; the network is the recipe's, with the classes asked for."""
    import torch

    from supernet.spaces import get_space
    from supernet.spaces.space import NetConfig
    out = subprocess.run([sys.executable, str(TRAIN_STEP), "--genotype", "k3e3", "--batch-size", "2", "--image-size",
                          "32", "--num-classes", "10", "--steps", "1", "--repeats", "1", "--warmup", "1", "--modes",
                          "none/contiguous,none/channels-last"], capture_output=True, text=True,
                         env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert out.returncode == 0, out.stderr
    rows = re.findall(r"^(none/\S+)\s+([0-9.]+) images/s.*params ([0-9,]+)$", out.stdout, re.M)
    assert [r[0] for r in rows] == ["none/contiguous", "none/channels-last"]
    space = get_space("mobilenet")
    net = space.build_network(space.parse_genotype(",".join(["k3e3"] * 21)),
                              NetConfig(channels=40, num_classes=10, input_size=32))
    expected = sum(p.numel() for p in net.parameters())
    assert all(float(r[1]) > 0 and int(r[2].replace(",", "")) == expected for r in rows)
    assert torch.cuda.is_available() or "GiB" not in out.stdout


@pytest.mark.slow
def test_train_step_bad_mode_is_one_line():
    out = subprocess.run([sys.executable, str(TRAIN_STEP), "--modes", "fp32/x"], capture_output=True, text=True)
    assert out.returncode != 0 and "Traceback" not in out.stderr
    assert out.stderr.strip().splitlines() == ["error: mode 'fp32/x' is not AMP/LAYOUT with AMP none|bf16|fp16 and "
                                               "LAYOUT contiguous|channels-last"]


@pytest.mark.slow
def test_gpu_checks_script_parses_and_its_flags_exist():
    """benchmarks/gpu_checks.sh only runs where a GPU is lent: here it must at least parse, and every flag it
    passes to a benchmark script must be one that script accepts (checked against its --help)."""
    script = SCRIPT.parent / "gpu_checks.sh"
    assert subprocess.run(["bash", "-n", str(script)]).returncode == 0
    text = script.read_text()
    for name in ("train_step.py", "zcpt_speed.py"):
        helptext = subprocess.run([sys.executable, str(SCRIPT.parent / name), "--help"], capture_output=True,
                                  text=True).stdout
        calls = [line.split(name, 1)[1] + " " + nxt for line, nxt in zip(text.splitlines(), text.splitlines()[1:] + [""])
                 if f"benchmarks/{name}" in line]
        flags = {f for call in calls for f in re.findall(r"(?<!\S)(--[a-z][a-z0-9-]*)", call)}
        assert calls and flags, name
        for f in flags:
            assert f in helptext or f.replace("--no-", "--") in helptext, f"{name} has no {f}"


@pytest.mark.slow
@pytest.mark.parametrize("script, args, needle", [
    ("train_step.py", ["--genotype", ",".join(["k3e3"] * 20 + ["k9e9"])], "layer 20 has unknown token 'k9e9'"),
    ("train_step.py", ["--genotype", "k9e9"], "cannot read genotype 'k9e9'"),  # not a block: no expansion
    ("train_step.py", ["--recipe", "nope"], "unknown recipe 'nope'"),
    ("zcpt_speed.py", ["--space", "nope"], "unknown space 'nope'"),
    ("factorized_reduce.py", ["--batch-size", "0"], "--batch-size and --repeats must be at least 1, got 0 and 15"),
    ("nwot_gram.py", ["--repeats", "0"], "--batch-size must be at least 2 and --repeats at least 1, got 64 and 0"),
    ("nwot_gram.py", ["--batch-size", "1"], "--batch-size must be at least 2 and --repeats at least 1, got 1 and 20"),
])
def test_benchmark_scripts_bad_names_are_one_line(script, args, needle):
    out = subprocess.run([sys.executable, str(SCRIPT.parent / script), *args], capture_output=True, text=True,
                         env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert out.returncode != 0 and "Traceback" not in out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0]


@pytest.mark.slow
def test_zcpt_proxies_script_skips_finished_runs_resumes_started_ones_and_passes_real_flags(tmp_path):
    """benchmarks/zcpt_proxies_nb201.sh with a stand-in opscore that logs its arguments: a finished run is skipped,
    a started one gets --resume, nwot runs as the README's search and other proxies with batch BN and
    uniform-fixed mixing; every flag it passes is one `opscore search` accepts."""
    script = SCRIPT.parent / "zcpt_proxies_nb201.sh"
    fake, log, runs = tmp_path / "opscore", tmp_path / "calls.txt", tmp_path / "runs"
    fake.write_text(f'#!/usr/bin/env bash\necho "$*" >> {log}\nif [[ $1 == report ]]; then '
                    'mkdir -p "${@: -1}"; echo table > "${@: -1}/report.md"; else '
                    'out=${@: -1}; [[ $out == --resume ]] && out=${@: -2:1}; mkdir -p "$out"; '
                    'touch "$out/result.json"; fi\n')
    fake.chmod(0o755)
    (runs / "nwot-s0").mkdir(parents=True)
    (runs / "nwot-s0" / "result.json").touch()
    (runs / "snip-s1").mkdir()
    out = subprocess.run(["bash", str(script)], capture_output=True, text=True,
                         env={**os.environ, "OPSCORE": str(fake), "RUNS": str(runs), "PROXIES": "nwot snip",
                              "SEEDS": "0 1"})
    assert out.returncode == 0, out.stderr
    calls = log.read_text().splitlines()
    searches = [c for c in calls if c.startswith("search")]
    assert [c.split("--out ")[1] for c in searches] == [f"{runs}/nwot-s1", f"{runs}/snip-s0",
                                                         f"{runs}/snip-s1 --resume"]
    assert "--bn-mode" not in searches[0] and all("--bn-mode batch --mixing uniform-fixed" in c for c in searches[1:])
    assert calls[-1].startswith("report") and out.stdout.strip() == "table"
    helptext = subprocess.run([sys.executable, "-c", "from search.cli import main; main(['search', '--help'])"],
                              capture_output=True, text=True).stdout
    for flag in {f for c in searches for f in re.findall(r"(?<!\S)(--[a-z][a-z0-9-]*)", c)}:
        assert flag in helptext, flag


def _stand_in(tmp_path, body: str):
    """A stand-in opscore: `body` runs for a search (OUT is its --out), a report writes report.md."""
    fake = tmp_path / "opscore"
    fake.write_text('#!/usr/bin/env bash\nif [[ $1 == report ]]; then mkdir -p "${@: -1}"; '
                    'echo table > "${@: -1}/report.md"; exit 0; fi\n'
                    'OUT=${@: -1}; [[ $OUT == --resume ]] && OUT=${@: -2:1}; mkdir -p "$OUT"\n' + body)
    fake.chmod(0o755)
    return fake


def _run_zcpt_script(fake, runs, **env):
    return subprocess.run(["bash", str(SCRIPT.parent / "zcpt_proxies_nb201.sh")], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "OPSCORE": str(fake), "RUNS": str(runs), **env})


@pytest.mark.slow
def test_zcpt_proxies_script_runs_jobs_searches_at_once(tmp_path):
    """JOBS=2: seed 0's stand-in finishes only once seed 1's has started, so the script passes only when both run
    at the same time; with JOBS=1 the same stand-in gives up (exit 3) and the script stops with that status."""
    runs = tmp_path / "runs"
    fake = _stand_in(tmp_path, 'touch "$OUT.started"\n'
                               'if [[ $OUT == *-s0 ]]; then for i in $(seq 30); do [[ -e ${OUT%0}1.started ]] '
                               '&& break; sleep 0.1; done; [[ -e ${OUT%0}1.started ]] || exit 3; fi\n'
                               'touch "$OUT/result.json"\n')
    out = _run_zcpt_script(fake, runs, PROXIES="snip", SEEDS="0 1", JOBS="2")
    assert out.returncode == 0, out.stderr
    assert (runs / "snip-s0" / "result.json").exists() and (runs / "snip-s1" / "result.json").exists()
    assert out.stdout.strip() == "table"
    runs1 = tmp_path / "runs1"
    out = _run_zcpt_script(fake, runs1, PROXIES="snip", SEEDS="0 1", JOBS="1")
    assert out.returncode == 3 and not (runs1 / "snip-s1").exists() and not (tmp_path / "runs1-report").exists()


@pytest.mark.slow
def test_zcpt_proxies_script_stops_at_a_failing_search_and_refuses_bad_jobs_or_threads(tmp_path):
    """A failing search: the running one finishes, no new one starts, the script exits with the failure's status
    and writes no report. JOBS or THREADS that is not a positive whole number is one line and exit 2."""
    runs = tmp_path / "runs"
    fake = _stand_in(tmp_path, 'if [[ $OUT == *snip-s0 ]]; then touch "$OUT.failed"; exit 5; fi\n'
                               'for i in $(seq 100); do [[ -e ${OUT%1}0.failed ]] && break; sleep 0.1; done\n'
                               'sleep 0.5; touch "$OUT/result.json"\n')
    out = _run_zcpt_script(fake, runs, PROXIES="snip synflow", SEEDS="0 1", JOBS="2")
    assert out.returncode == 5
    assert (runs / "snip-s1" / "result.json").exists()      # started beside the failing one, finished after it
    assert not (runs / "synflow-s0").exists() and not (tmp_path / "runs-report").exists()
    for name in ("JOBS", "THREADS"):  # a bad THREADS would only make libgomp warn and fall back
        for bad in ("0", "two", "-1"):
            out = _run_zcpt_script(fake, runs, PROXIES="snip", SEEDS="1", **{name: bad})
            assert out.returncode == 2 and out.stderr.strip() == f"{name} must be a positive whole number, got '{bad}'"


@pytest.mark.slow
def test_factorized_reduce_benchmark_prints_both_formulas_per_shape_and_layout():
    out = subprocess.run([sys.executable, str(SCRIPT.parent / "factorized_reduce.py"), "--batch-size", "2",
                          "--repeats", "1"], capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert out.returncode == 0, out.stderr
    rows = out.stdout.strip().splitlines()
    assert len(rows) == 8 and all("darts" in r and "ours" in r and "darts/ours" in r for r in rows)
    assert sum("channels_last" in r for r in rows) == 4


@pytest.mark.slow
def test_nwot_gram_times_both_kernels_on_the_three_nb201_code_shapes():
    """Each NB201 code shape gets a row: both kernels timed and int8 checked exact, or int8 said to be missing."""
    out = subprocess.run([sys.executable, str(SCRIPT.parent / "nwot_gram.py"), "--batch-size", "4", "--repeats", "1"],
                         capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert out.returncode == 0, out.stderr
    rows = re.findall(r"^\s*(\d+) units: (.*)$", out.stdout, re.M)
    assert [int(r[0]) for r in rows] == [16384, 8192, 4096]
    assert all(re.search(r"int8 / float32\s+[0-9.]+x\s+int8 exact: True$", r[1]) or "cannot run here" in r[1]
               for r in rows)


def test_interleaved_medians_alternates_the_order_and_skips_the_warm_up():
    """Rounds go a b / b a / a b ...; the warm-up rounds are run, not timed; one median per run."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("interleaved", SCRIPT.parent / "interleaved.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    calls: list[str] = []
    medians = module.interleaved_medians({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")},
                                         repeats=3, warmup=2)
    assert calls == ["a", "b", "b", "a", "a", "b", "b", "a", "a", "b"]
    assert set(medians) == {"a", "b"} and all(m >= 0 for m in medians.values())
