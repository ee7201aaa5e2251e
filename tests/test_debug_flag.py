"""--debug: user errors show their traceback only when asked; a bug always does."""
import subprocess
import sys

import pytest

from runtime.settings import SettingsError
from search.cli import main as opscore
from search.cli import search_cmd
from train_final import cli as train_cli
from train_final.recipe import RecipeError

BAD = ["search", "--dataset", "synthetic", "--channels", "0"]


def test_user_error_is_one_line_without_debug(capsys):
    assert opscore(BAD) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "channels must be at least 1" in err


def test_user_error_raises_with_debug():
    with pytest.raises(SettingsError, match="channels must be at least 1"):
        opscore(["--debug", *BAD])


def test_train_final_debug(capsys):
    argv = ["--genotype", "|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|", "--seed", "-1"]
    assert train_cli.main(argv) == 2 and "seed must be at least 0" in capsys.readouterr().err
    with pytest.raises(RecipeError, match="seed must be at least 0"):
        train_cli.main(["--debug", *argv])


@pytest.mark.parametrize("debug", [[], ["--debug"]])
def test_a_bug_always_propagates(monkeypatch, debug):
    def broken(args):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(search_cmd, "run_search", lambda *a, **k: broken(None))
    with pytest.raises(ZeroDivisionError):
        opscore([*debug, "search", "--dataset", "synthetic"])


@pytest.mark.slow
def test_debug_prints_the_traceback_from_the_command_line():
    proc = subprocess.run([sys.executable, "-m", "search", "--debug", *BAD], capture_output=True, text=True)
    assert proc.returncode == 1 and "Traceback" in proc.stderr and "SettingsError" in proc.stderr
