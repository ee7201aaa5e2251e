"""train_final: the training loop on tiny networks (loss falls, exact resume, selection, precision, run dir)."""
import json
import math

import numpy as np
import pytest
import torch
from PIL import Image

from runtime.rundir import RunFolderError
from train_final.checkpoint import load_checkpoint
from runtime.data import holdout_split
from train_final.metrics import count_flops, topk_correct
from train_final.recipe import Recipe, RecipeError
from train_final.train_run import train

NB201 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|skip_connect~1|+|skip_connect~0|nor_conv_1x1~1|avg_pool_3x3~2|"



def tiny(**kw) -> Recipe:
    """A 4-channel, 1-cell-per-stage NB201 network on 16x16 synthetic images."""
    base = dict(name="tiny", space="nb201", genotype=NB201, dataset="synthetic", synthetic_size=32, image_size=16,
                channels=4, cells=1, epochs=2, batch_size=8, lr=0.05, weight_decay=0.0, workers=0, device="cpu")
    return Recipe(**{**base, **kw}).validate()


def rows(run_dir) -> list[dict]:
    return [json.loads(l) for l in (run_dir / "metrics.jsonl").read_text().splitlines()]


@pytest.fixture
def image_folder(tmp_path):
    """3 classes of 32x32 JPEGs in train/ (6 each) and test/ (2 each): real files, real augmentation."""
    rng = np.random.default_rng(0)
    root = tmp_path / "imgs"
    for split, n in (("train", 6), ("test", 2)):
        for c in range(3):
            d = root / split / f"class{c}"
            d.mkdir(parents=True)
            for i in range(n):
                arr = (rng.random((32, 32, 3)) * 80 + 60 * c).astype(np.uint8)
                Image.fromarray(arr).save(d / f"{i}.jpg")
    return root


@pytest.mark.slow
def test_short_run_lowers_training_loss(tmp_path):
    res = train(tiny(epochs=5, schedule="constant", synthetic_size=16), tmp_path / "r", progress=False)
    losses = [r["train_loss"] for r in rows(tmp_path / "r")]
    assert len(losses) == 5 and all(math.isfinite(l) for l in losses)
    assert losses[-1] < losses[0] - 0.2, losses
    assert res["train_loss"] == losses[-1]


@pytest.mark.slow
def test_run_dir_and_result(tmp_path):
    res = train(tiny(), tmp_path / "r", progress=False)
    d = tmp_path / "r"
    for name in ("recipe.yaml", "metrics.jsonl", "result.json", "train.log", "checkpoints/last.pt"):
        assert (d / name).is_file(), name
    assert list((d / "tb").iterdir())
    assert not list(d.rglob("*.tmp"))  # atomic writes leave no temporary files
    saved = json.loads((d / "result.json").read_text())
    assert saved == json.loads(json.dumps(res))
    for key in ("test_top1", "test_top5", "params", "flops", "epochs", "seconds", "genotype", "space"):
        assert key in saved
    assert saved["genotype"] == NB201 and saved["space"] == "nb201" and saved["epochs"] == 2
    assert 0 <= saved["test_top1"] <= saved["test_top5"] <= 100
    assert rows(d)[-1]["test_top1"] == saved["test_top1"]  # the final epoch's number, not the best one
    assert [r["epoch"] for r in rows(d)] == [1, 2]
    assert rows(d)[0]["lr"] == pytest.approx(0.05) and rows(d)[1]["lr"] == pytest.approx(0.025)  # cosine, T=2
    ck = load_checkpoint(d / "checkpoints" / "last.pt")
    assert ck["epoch"] == 2 and len(ck["history"]) == 2


def test_existing_run_dir_needs_resume_and_same_settings(tmp_path):
    train(tiny(epochs=1), tmp_path / "r", progress=False)
    with pytest.raises(RunFolderError, match="--resume"):
        train(tiny(epochs=1), tmp_path / "r", progress=False)
    with pytest.raises(RunFolderError, match="settings differ \\(lr\\)"):
        train(tiny(epochs=1, lr=0.2), tmp_path / "r", resume=True, progress=False)
    again = train(tiny(epochs=1), tmp_path / "r", resume=True, progress=False)  # finished: returned unchanged
    assert again == json.loads((tmp_path / "r" / "result.json").read_text())


class Interrupt(Exception):
    pass


@pytest.mark.slow
def test_interrupted_and_resumed_run_equals_uninterrupted(tmp_path, image_folder):
    """Augmentation (crop, flip, cutout) draws from the RNG, so this needs model, optimiser, schedule and RNG."""
    kw = dict(dataset="imagefolder", data_root=str(image_folder), image_size=32, cutout=8, batch_size=6,
              epochs=3, momentum=0.9, weight_decay=1e-3, lr=0.1)
    train(tiny(**kw), tmp_path / "full", progress=False)

    def stop_after_first(epoch: int) -> None:
        if epoch == 1:
            raise Interrupt

    with pytest.raises(Interrupt):
        train(tiny(**kw), tmp_path / "part", progress=False, on_epoch_end=stop_after_first)
    assert not (tmp_path / "part" / "result.json").exists() and len(rows(tmp_path / "part")) == 1
    train(tiny(**kw), tmp_path / "part", resume=True, progress=False)
    a = load_checkpoint(tmp_path / "full" / "checkpoints" / "last.pt")
    b = load_checkpoint(tmp_path / "part" / "checkpoints" / "last.pt")
    assert a["model"].keys() == b["model"].keys()
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k
    for sa, sb in zip(a["optimizer"]["state"].values(), b["optimizer"]["state"].values()):
        assert torch.equal(sa["momentum_buffer"], sb["momentum_buffer"])
    strip = ("seconds", "train_images_per_second")
    ra = [{k: v for k, v in r.items() if k not in strip} for r in rows(tmp_path / "full")]
    rb = [{k: v for k, v in r.items() if k not in strip} for r in rows(tmp_path / "part")]
    assert ra == rb


@pytest.mark.slow
def test_resume_without_the_rng_state_would_differ(tmp_path, image_folder, monkeypatch):
    """Control for the test above: skipping the RNG restore changes the augmentation stream and the weights."""
    kw = dict(dataset="imagefolder", data_root=str(image_folder), image_size=32, cutout=8, batch_size=6, epochs=2)
    train(tiny(**kw), tmp_path / "full", progress=False)

    def stop(epoch: int) -> None:
        raise Interrupt

    with pytest.raises(Interrupt):
        train(tiny(**kw), tmp_path / "part", progress=False, on_epoch_end=stop)
    import train_final.train_run as run_mod
    monkeypatch.setattr(run_mod, "set_rng_state", lambda state: None)
    train(tiny(**kw), tmp_path / "part", resume=True, progress=False)
    a = load_checkpoint(tmp_path / "full" / "checkpoints" / "last.pt")["model"]
    b = load_checkpoint(tmp_path / "part" / "checkpoints" / "last.pt")["model"]
    assert any(not torch.equal(a[k], b[k]) for k in a)


@pytest.mark.slow
def test_validation_split_selects_on_validation_only(tmp_path):
    res = train(tiny(epochs=3, val_split=0.25, synthetic_size=32), tmp_path / "r", progress=False)
    rs = rows(tmp_path / "r")
    sel = res["selection"]
    val = [r["val_top1"] for r in rs]
    assert sel["epoch"] == 1 + val.index(max(val)) and sel["val_top1"] == max(val)
    assert res["test_top1"] == rs[-1]["test_top1"]  # the headline number stays the final epoch's
    best = load_checkpoint(tmp_path / "r" / "checkpoints" / "best.pt")
    assert best["epoch"] == sel["epoch"]


def test_holdout_split():
    tr, va = holdout_split(100, 0.2, seed=3)
    assert len(va) == 20 and len(tr) == 80 and not set(tr) & set(va) and sorted(tr + va) == list(range(100))
    assert holdout_split(100, 0.2, seed=3) == (tr, va) and holdout_split(100, 0.2, seed=4) != (tr, va)
    assert len(holdout_split(100, 7, seed=0)[1]) == 7
    from runtime.data import DataError
    with pytest.raises(DataError):
        holdout_split(10, 10, seed=0)


@pytest.mark.slow
@pytest.mark.parametrize("amp, channels_last", [("bf16", True), ("fp16", False)])
def test_mixed_precision_and_channels_last(tmp_path, amp, channels_last):
    res = train(tiny(epochs=1, amp=amp, channels_last=channels_last, grad_clip=5.0), tmp_path / "r", progress=False)
    assert math.isfinite(res["train_loss"]) and res["amp"] == amp and res["channels_last"] == channels_last
    ck = load_checkpoint(tmp_path / "r" / "checkpoints" / "last.pt")
    assert all(v.dtype == torch.float32 for v in ck["model"].values() if v.is_floating_point())
    if amp == "fp16":  # fp16 trains through the loss scaler, whose state is checkpointed
        assert ck["scaler"]["scale"] > 0
    else:
        assert ck["scaler"] == {}  # bf16 needs no scaling


def test_auxiliary_weight_needs_an_auxiliary_head(tmp_path):
    with pytest.raises(RecipeError, match="no auxiliary head"):
        train(tiny(epochs=1, auxiliary_weight=0.4), tmp_path / "r", progress=False)
    with pytest.raises(RecipeError, match="no drop-path"):
        train(tiny(epochs=1, drop_path=0.2), tmp_path / "r2", progress=False)


def test_topk_correct_hand_case():
    logits = torch.tensor([[0.1, 0.9, 0.0, 0.0, 0.0, 0.0],
                           [0.5, 0.1, 0.2, 0.3, 0.4, 0.0],   # label 5 is 6th: top-5 miss
                           [0.0, 0.1, 0.2, 0.3, 0.4, 0.5]])  # label 0 is 6th
    c1, c5 = topk_correct(logits, torch.tensor([1, 5, 1]))
    assert int(c1) == 1 and int(c5) == 2


def test_flop_count_matches_hand_formula():
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1, bias=False), torch.nn.Flatten(),
                              torch.nn.Linear(4 * 8 * 8, 5))
    # 2 FLOPs per multiply-add: conv 3*4*9 per output pixel * 64 pixels, linear 256*5
    assert count_flops(net, 8, torch.device("cpu")) == 2 * (3 * 4 * 9 * 64 + 256 * 5)
