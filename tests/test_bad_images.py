"""Unreadable images in an image folder: one line naming the file before the run works, or skipped with a
warning naming each under --bad-images skip."""
import io
import logging

import pytest
from PIL import Image

from search.cli import main as opscore
from runtime.data import DataError, DataSpec, build_dataset

GENOTYPE = "|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|"


def _jpeg_bytes(seed: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (seed * 40 % 256, 10, 200)).save(buf, "JPEG")
    return buf.getvalue()


BAD = {"zero-byte": b"", "text": b"not an image\n", "truncated-head": _jpeg_bytes(1)[:60],
       "truncated-tail": _jpeg_bytes(1)[:-40]}


def _folder(root, bad: bytes | None):
    """root/train and root/test with 2 classes of 3 good 8 px JPEGs; `bad` written as train/a/bad.jpg."""
    for split in ("train", "test"):
        for c in ("a", "b"):
            d = root / split / c
            d.mkdir(parents=True)
            for i in range(3):
                (d / f"{i}.jpg").write_bytes(_jpeg_bytes(i))
    if bad is not None:
        (root / "train" / "a" / "bad.jpg").write_bytes(bad)
    return root


@pytest.mark.slow
@pytest.mark.parametrize("kind", BAD)
def test_fail_names_the_file(tmp_path, kind):
    root = _folder(tmp_path / "d", BAD[kind])
    with pytest.raises(DataError, match=r"bad\.jpg cannot be read.*--bad-images skip") as e:
        build_dataset(DataSpec("imagefolder", str(root), image_size=8), "train")
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("kind", BAD)
def test_skip_warns_and_leaves_it_out(tmp_path, caplog, kind):
    root = _folder(tmp_path / "d", BAD[kind])
    with caplog.at_level(logging.WARNING):
        ds = build_dataset(DataSpec("imagefolder", str(root), image_size=8, bad_images="skip"), "train")
    assert len(ds) == 6 and len(ds.targets) == 6 and all("bad.jpg" not in p for p, _ in ds.samples)
    assert any("bad.jpg" in r.getMessage() for r in caplog.records)
    assert ds[5][0].shape[-1] == 8


def test_good_folder_and_off_keep_every_image(tmp_path):
    good = _folder(tmp_path / "good", None)
    assert len(build_dataset(DataSpec("imagefolder", str(good), image_size=8), "train")) == 6
    bad = _folder(tmp_path / "bad", b"")
    assert len(build_dataset(DataSpec("imagefolder", str(bad), image_size=8, bad_images="off"), "train")) == 7


@pytest.mark.parametrize("argv", [
    ["search", "--space", "nb201", "--channels", "4", "--cells", "1", "-N", "1", "-V", "1", "--batch-size", "4"],
    ["train-supernet", "--space", "nb201", "--channels", "4", "--cells", "1", "--epochs", "1", "--batch-size", "4"],
    ["train", "--genotype", GENOTYPE, "--channels", "4", "--cells", "1", "--epochs", "1", "--batch-size", "4",
     "--image-size", "8"],
])
def test_commands_stop_with_one_line(tmp_path, capsys, argv):
    root = _folder(tmp_path / "d", BAD["truncated-tail"])
    code = opscore([*argv, "--dataset", "imagefolder", "--data-root", str(root), "--no-progress",
                    "--out", str(tmp_path / "run")])
    err = [l for l in capsys.readouterr().err.splitlines() if l.strip()]
    assert code == 2 and len(err) == 1 and "bad.jpg cannot be read" in err[0], err
