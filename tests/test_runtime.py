"""The shared run infrastructure: atomic files and their permissions, the run folder, seeds, RNG state, devices."""
import json
import logging
import os
import random

import numpy as np
import pytest
import torch
import yaml

from runtime.device import DeviceError, resolve_device
from runtime.io import atomic_torch_save, atomic_write_json, atomic_write_text
from runtime.rng import rng_state, set_rng_state, set_torch_rng_text, torch_rng_text
from runtime.rundir import RunFolder, RunFolderError
from runtime.seeds import derive_seed
from runtime.settings import Schema


@pytest.fixture
def umask():
    """Set the process umask for a test and restore it afterwards."""
    old = os.umask(0o022)
    os.umask(old)

    def set_(mask: int) -> None:
        os.umask(mask)
    yield set_
    os.umask(old)


@pytest.mark.parametrize("mask", [0o022, 0o002, 0o077])
def test_atomic_files_get_the_users_normal_permissions(tmp_path, umask, mask):
    umask(mask)
    atomic_write_text(tmp_path / "a.txt", "x")
    atomic_write_json(tmp_path / "b.json", {"v": float("nan")})
    atomic_torch_save({"w": torch.ones(2)}, tmp_path / "c.pt")
    plain = tmp_path / "plain.txt"
    plain.write_text("x")  # what open() gives under the same umask: the expectation
    for name in ("a.txt", "b.json", "c.pt"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o666 & ~mask == plain.stat().st_mode & 0o777
    assert json.loads((tmp_path / "b.json").read_text()) == {"v": "nan"}
    assert not list(tmp_path.glob("*.tmp"))


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    atomic_write_text(tmp_path / "f.json", "old")
    with pytest.raises(TypeError):
        atomic_write_json(tmp_path / "f.json", {"bad": object()})
    assert (tmp_path / "f.json").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.json"]


def test_run_folder_create_reopen_and_settings_check(tmp_path, caplog):
    root = tmp_path / "run"
    f = RunFolder.open(root, {"a": 1, "b": "x", "out": "run"}, resume=False, markers=("done.json",))
    assert not f.resumed and yaml.safe_load((root / "config.yaml").read_text()) == {"a": 1, "b": "x", "out": "run"}
    f.write_json("done.json", [1])
    with pytest.raises(RunFolderError, match="pass --resume"):
        RunFolder.open(root, {"a": 1, "b": "x", "out": "run"}, resume=False, markers=("done.json",))
    with pytest.raises(RunFolderError, match=r"settings differ \(a\)"):
        RunFolder.open(root, {"a": 2, "b": "x", "out": "run"}, resume=True, markers=("done.json",))
    again = RunFolder.open(root, {"a": 1, "b": "x", "out": "elsewhere"}, resume=True, markers=("done.json",))
    assert again.resumed and again.read_json("done.json") == [1]
    # a setting added since the run was written: its default matches, anything else differs
    assert RunFolder.open(root, {"a": 1, "b": "x", "c": 0}, resume=True, markers=("done.json",),
                          schema=Schema({"c": 0})).resumed
    (root / "config.yaml").write_text(yaml.safe_dump({"a": 1, "b": "x"}))
    with pytest.raises(RunFolderError, match=r"settings differ \(c\)"):
        RunFolder.open(root, {"a": 1, "b": "x", "c": 5}, resume=True, markers=("done.json",),
                       schema=Schema({"c": 0}))
    with pytest.raises(RunFolderError, match="choose another --out"):
        RunFolder.open(root, {"a": 1}, resume=True, markers=("done.json",), resumable=False)
    with caplog.at_level(logging.WARNING):
        fresh = RunFolder.open(tmp_path / "typo", {"a": 1}, resume=True, markers=("done.json",))
    assert not fresh.resumed and "nothing to resume" in caplog.text


def test_run_folder_refuses_a_file_and_names_a_damaged_checkpoint(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(RunFolderError, match="is a file"):
        RunFolder.open(tmp_path / "file", {}, resume=False, markers=("m",))
    f = RunFolder.open(tmp_path / "run", {}, resume=False, markers=("m",))
    (tmp_path / "run" / "proposals.json").write_text('[{"iteration": 0,')  # torn by a crash
    with pytest.raises(RunFolderError, match=r"proposals\.json is damaged .*delete it"):
        f.read_json("proposals.json")
    (tmp_path / "run" / "rows.jsonl").write_text('{"a": 1}\n{"a": \n')
    with pytest.raises(RunFolderError, match=r"rows\.jsonl is damaged"):
        f.read_jsonl("rows.jsonl")
    assert f.read_json("absent.json", {"x": 1}) == {"x": 1} and f.read_jsonl("absent.jsonl") == []


def test_a_folder_that_does_not_write_writes_nothing(tmp_path):
    f = RunFolder.open(tmp_path / "run", {"a": 1}, resume=False, markers=("m",), writes=False)
    f.write_json("x.json", 1)
    f.finish({"genotype": "g"})
    with f.logging_to("log.txt"), f.tensorboard() as tb:
        tb.add_scalar("x", 1.0, 0)
        logging.getLogger("opscore.test").warning("not written")
    assert not (tmp_path / "run").exists()


def test_log_file_and_tensorboard_are_attached_for_the_block_only(tmp_path):
    f = RunFolder.open(tmp_path / "run", {}, resume=False, markers=("m",))
    root = logging.getLogger()
    handlers = list(root.handlers)
    with f.logging_to("run.log"), f.tensorboard() as tb:
        logging.getLogger("opscore.test").warning("inside the block")
        tb.add_scalar("x", 1.0, 0)
    logging.getLogger("opscore.test").warning("after the block")
    text = (tmp_path / "run" / "run.log").read_text()
    assert "inside the block" in text and "after the block" not in text
    assert root.handlers == handlers and list((tmp_path / "run" / "tb").iterdir())
    f.finish({"v": 1})
    assert f.finished and f.read_json("result.json") == {"v": 1}


def test_derive_seed_is_the_seed_sequence_word_pair_halved():
    words = np.random.SeedSequence([7, 1, 3]).generate_state(1, dtype=np.uint64)  # the two 32-bit words as one
    assert derive_seed(7, 1, 3) == int(words[0]) >> 1
    assert 0 <= derive_seed(2**70, 5) < 2**63 and derive_seed(1, 2) != derive_seed(2, 1)


def test_rng_state_round_trips():
    state = rng_state()
    a = (random.random(), np.random.rand(), torch.rand(1).item())
    set_rng_state(state)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == a
    text = torch_rng_text(torch.device("cpu"))
    assert json.loads(json.dumps(text)) == text
    b = torch.rand(3)
    set_torch_rng_text(text, torch.device("cpu"))
    assert torch.equal(torch.rand(3), b)


def test_device_resolution():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(DeviceError, match="not a device"):
        resolve_device("gpu0")
    with pytest.raises(DeviceError, match="cpu or cuda"):
        resolve_device("meta")
    if not torch.cuda.is_available():
        with pytest.raises(DeviceError, match="no CUDA device"):
            resolve_device("cuda")
