"""Damaged training checkpoints on --resume: one line naming the file and the fix (never torch's message);
a damaged derived history.jsonl is rewritten from the checkpoint."""
import json

import pytest

from runtime.checkpoint_file import CheckpointError, read_checkpoint
from search.cli import main as opscore
from search.supernet_train.config import SupernetTrainConfig
from search.supernet_train.supernet_run import train_supernet
from runtime.data import SyntheticImages

NB201 = "|nor_conv_3x3~0|+|none~0|skip_connect~1|+|none~0|none~1|avg_pool_3x3~2|"
TRAIN = ["train", "--genotype", NB201, "--dataset", "synthetic", "--set", "synthetic_size=16", "--image-size", "8",
         "--channels", "2", "--cells", "1", "--epochs", "1", "--batch-size", "8", "--workers", "0", "--device", "cpu",
         "--no-progress"]


def _damage(path, how: str) -> None:
    """Truncate `path` to half, make it empty, or replace it by text."""
    data = path.read_bytes()
    path.write_bytes({"truncated": data[: len(data) // 2], "empty": b"", "text": b"not a checkpoint\n"}[how])


def _one_line(capsys, code: int, *needles: str) -> str:
    err = [l for l in capsys.readouterr().err.splitlines() if l.strip()]
    assert code == 2 and len(err) == 1, err
    assert all(n in err[0] for n in needles) and "weights_only" not in err[0] and "Traceback" not in err[0], err
    return err[0]


@pytest.mark.parametrize("how", ["truncated", "empty", "text"])
def test_reader_names_file_and_fix(tmp_path, how):
    import torch
    p = tmp_path / "c.pt"
    torch.save({"epoch": 1}, p)
    _damage(p, how)
    with pytest.raises(CheckpointError, match=r"c\.pt is damaged.*delete it") as e:
        read_checkpoint(p, "training checkpoint", "delete it")
    assert "weights_only" not in str(e.value)


def test_reader_refuses_an_incomplete_checkpoint(tmp_path):
    import torch
    torch.save({"epoch": 1}, tmp_path / "c.pt")
    with pytest.raises(CheckpointError, match="missing history"):
        read_checkpoint(tmp_path / "c.pt", "training checkpoint", "delete it", keys=("epoch", "history"))


@pytest.mark.slow
@pytest.mark.parametrize("how", ["truncated", "text"])
def test_train_resume_with_damaged_last_pt(tmp_path, capsys, how):
    run = tmp_path / "r"
    assert opscore([*TRAIN, "--out", str(run)]) == 0
    capsys.readouterr()
    (run / "result.json").unlink()  # as if killed after the checkpoint
    last = run / "checkpoints" / "last.pt"
    _damage(last, how)
    _one_line(capsys, opscore([*TRAIN, "--out", str(run), "--resume"]), str(last), "delete it to restart")
    last.unlink()  # the fix the line gives works
    assert opscore([*TRAIN, "--out", str(run), "--resume"]) == 0


def _cfg() -> SupernetTrainConfig:
    return SupernetTrainConfig(space="nb201", method="darts", epochs=2, batch_size=16, seed=4, channels=2, cells=1,
                               eval_batches=1, workers=0, device="cpu")


def _data():
    return SyntheticImages(64, 10, image_size=8, seed=0)


class Stop(Exception):
    pass


def _killed_after_first_epoch(run) -> None:
    def stop(epoch: int, step: int) -> None:
        if epoch == 1:
            raise Stop

    with pytest.raises(Stop):
        train_supernet(_cfg(), run, progress=False, dataset=_data(), on_step=stop)


@pytest.mark.slow
@pytest.mark.parametrize("how", ["truncated", "text"])
def test_train_supernet_resume_with_damaged_checkpoint(tmp_path, how):
    run = tmp_path / "r"
    _killed_after_first_epoch(run)
    _damage(run / "checkpoint.pt", how)
    with pytest.raises(CheckpointError, match=r"checkpoint\.pt is damaged.*delete it to restart") as e:
        train_supernet(_cfg(), run, resume=True, progress=False, dataset=_data())
    assert "\n" not in str(e.value) and "weights_only" not in str(e.value)


@pytest.mark.slow
def test_train_supernet_cli_resume_with_damaged_checkpoint(tmp_path, capsys):
    argv = ["train-supernet", "--space", "nb201", "--dataset", "synthetic", "--channels", "2", "--cells", "1",
            "--epochs", "1", "--batch-size", "16", "--eval-batches", "1", "--no-progress", "--out", str(tmp_path / "r")]
    assert opscore(argv) == 0
    capsys.readouterr()
    (tmp_path / "r" / "result.json").unlink()
    _damage(tmp_path / "r" / "checkpoint.pt", "truncated")
    _one_line(capsys, opscore([*argv, "--resume"]), "checkpoint.pt is damaged", "delete it")


@pytest.mark.slow
def test_train_supernet_resume_rewrites_a_damaged_history_and_counts_the_killed_time(tmp_path):
    run = tmp_path / "r"
    _killed_after_first_epoch(run)
    history = run / "history.jsonl"
    first = json.loads(history.read_text().splitlines()[0])
    history.write_text('{"epoch": 1, "trunc')
    result = train_supernet(_cfg(), run, resume=True, progress=False, dataset=_data())
    rows = [json.loads(l) for l in history.read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2] and rows[0]["genotype"] == first["genotype"]
    assert result["seconds"] >= first["seconds"] + rows[1]["seconds"]
