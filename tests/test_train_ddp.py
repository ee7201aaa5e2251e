"""Two processes under torchrun (gloo on CPU): training runs, rank 0 alone writes, reductions are exact."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader

from train_final.checkpoint import load_checkpoint
from runtime.distributed import DistEnv, ShardSampler
from train_final.genotypes import parse_in_space
from train_final.loop import StepSettings, evaluate
from train_final.recipe import Recipe
from train_final.train_run import build_data, build_model

NB201 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|skip_connect~1|+|skip_connect~0|nor_conv_1x1~1|avg_pool_3x3~2|"
TORCHRUN = Path(sys.executable).with_name("torchrun")



def test_shards_cover_every_item_once():
    for n in (0, 1, 7, 10):
        for world in (1, 2, 3):
            parts = [list(ShardSampler(n, DistEnv(r, world, r))) for r in range(world)]
            assert sorted(i for p in parts for i in p) == list(range(n))
            assert [len(ShardSampler(n, DistEnv(r, world, r))) for r in range(world)] == [len(p) for p in parts]


@pytest.mark.slow
@pytest.mark.skipif(not TORCHRUN.is_file(), reason="torchrun not installed beside python")
def test_two_process_gloo_run_agrees_with_single_process_reduction(tmp_path):
    out = tmp_path / "ddp"
    cmd = [str(TORCHRUN), "--standalone", "--nproc-per-node", "2", "-m", "train_final",
           "--genotype", NB201, "--recipe", "cifar10-nb201", "--dataset", "synthetic", "--set", "synthetic_size=30",
           "--image-size", "16", "--channels", "4", "--cells", "1", "--epochs", "2", "--batch-size", "8",
           "--workers", "0", "--device", "cpu", "--no-progress", "--out", str(out)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summaries = [l for l in proc.stdout.splitlines() if l.startswith("{")]
    assert len(summaries) == 1  # rank 0 alone prints
    res = json.loads((out / "result.json").read_text())
    assert res["processes"] == 2 and res["epochs"] == 2
    assert len(list((out / "tb").iterdir())) == 1  # rank 0 alone writes
    rows = [json.loads(l) for l in (out / "metrics.jsonl").read_text().splitlines()]
    # 30 training images, 4 per process per step: every image once per epoch (the sampler pads to 32)
    assert [r["epoch"] for r in rows] == [1, 2]

    # one process evaluating rank 0's final weights on the whole test set gives the reduced numbers
    recipe = Recipe(name="check", space="nb201", genotype=NB201, dataset="synthetic", synthetic_size=30,
                    image_size=16, channels=4, cells=1, device="cpu").validate()
    data = build_data(recipe)
    model = build_model(parse_in_space("nb201", NB201), recipe, data.num_classes)
    model.load_state_dict(load_checkpoint(out / "checkpoints" / "last.pt")["model"])
    single = evaluate(model, DataLoader(data.test, batch_size=5, sampler=ShardSampler(len(data.test), DistEnv())),
                      StepSettings(torch.device("cpu")), DistEnv())
    assert single["n"] == len(data.test)
    assert res["test_top1"] == pytest.approx(single["top1"], abs=1e-9)
    assert res["test_top5"] == pytest.approx(single["top5"], abs=1e-9)
    assert res["test_loss"] == pytest.approx(single["loss"], rel=1e-5)
