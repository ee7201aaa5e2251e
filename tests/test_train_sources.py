"""train_final: genotype sources, recipes as published, the train command, DARTS networks in the loop."""
import json
import os
import subprocess
import sys

import pytest

from search.cli import main as opscore
from supernet.spaces.space import GenotypeError, NetConfig
from train_final.checkpoint import load_checkpoint
from train_final.genotypes import load_genotype
from train_final.metrics import count_params
from train_final.recipe import Recipe, RecipeError, load_recipe, make_recipe
from train_final.train_run import train

NB201 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|skip_connect~1|+|skip_connect~0|nor_conv_1x1~1|avg_pool_3x3~2|"
DARTS_V2_TEXT = ("Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), "
                 "('sep_conv_3x3', 1), ('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), "
                 "('dil_conv_3x3', 2)], normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), "
                 "('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), ('max_pool_3x3', 0), "
                 "('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], reduce_concat=[2, 3, 4, 5])")
TINY_FLAGS = ["--dataset", "synthetic", "--set", "synthetic_size=16", "--image-size", "16", "--channels", "4",
              "--cells", "1", "--epochs", "1", "--batch-size", "8", "--workers", "0", "--device", "cpu",
              "--no-progress"]



# ------------------------------------------------------------------ genotype sources
def test_string_sources_detect_their_space():
    nb = load_genotype(NB201)
    assert (nb.space, nb.text) == ("nb201", NB201)
    mac = load_genotype("22102122")
    assert (mac.space, mac.text) == ("nb-macro", "22102122")
    d = load_genotype(DARTS_V2_TEXT)
    assert d.space == "darts" and d.genotype.normal[-1] == ("dil_conv_3x3", 2)
    assert load_genotype("DARTS_V2") == d  # the published name gives the same cell


def test_run_dir_and_file_sources(tmp_path):
    search_dir = tmp_path / "search"
    search_dir.mkdir()
    (search_dir / "result.json").write_text(json.dumps({"space": "nb201", "genotype": NB201, "seed": 0}))
    assert load_genotype(str(search_dir)).text == NB201
    darts_dir = tmp_path / "darts"
    darts_dir.mkdir()
    d = load_genotype("DARTS_V2")
    js = {"normal": [list(p) for p in d.genotype.normal], "normal_concat": [2, 3, 4, 5],
          "reduce": [list(p) for p in d.genotype.reduce], "reduce_concat": [2, 3, 4, 5]}
    (darts_dir / "result.json").write_text(json.dumps({"space": "darts", "genotype": "ignored when json is given",
                                                        "genotype_json": js}))
    assert load_genotype(str(darts_dir)).genotype == d.genotype
    (tmp_path / "g.txt").write_text(DARTS_V2_TEXT + "\n")
    assert load_genotype(str(tmp_path / "g.txt")).genotype == d.genotype
    (tmp_path / "g.json").write_text(json.dumps({"space": "nb-macro", "genotype": "11111111"}))
    assert load_genotype(str(tmp_path / "g.json")).text == "11111111"
    (tmp_path / "d.json").write_text(json.dumps(js))
    assert load_genotype(str(tmp_path / "d.json")).genotype == d.genotype
    (tmp_path / "s.json").write_text(json.dumps(NB201))
    assert load_genotype(str(tmp_path / "s.json")).space == "nb201"


@pytest.mark.parametrize("source, needle", [
    ("Genotype(normal=[('sep_conv_3x3', 0)", "not a DARTS genotype"),
    ("|nor_conv_3x3~0|+|bad_op~0|nor_conv_3x3~1|+|skip_connect~0|skip_connect~1|skip_connect~2|", "unknown NB201 op"),
    ("|nor_conv_3x3~0|+|nor_conv_3x3~0|", "3 nodes"),
    ("2210212", "8 digits"),
    ("22103122", "layer 4"),
    ("hello world", "cannot read genotype"),
    ("DARTS_V9", "unknown genotype name"),
    ("/nonexistent/run_dir", "does not exist"),
    ("", "empty genotype source"),
])
def test_malformed_sources_fail_clearly(source, needle):
    with pytest.raises(GenotypeError, match=needle.replace("(", "\\(")):
        load_genotype(source)


def test_malformed_files_fail_clearly(tmp_path):
    (tmp_path / "empty_run").mkdir()
    with pytest.raises(GenotypeError, match="has no result.json"):
        load_genotype(str(tmp_path / "empty_run"))
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(GenotypeError, match="not valid JSON"):
        load_genotype(str(tmp_path / "bad.json"))
    (tmp_path / "empty.txt").write_text("  \n")
    with pytest.raises(GenotypeError, match="is empty"):
        load_genotype(str(tmp_path / "empty.txt"))
    (tmp_path / "other.json").write_text(json.dumps({"space": "nope", "genotype": "x"}))
    with pytest.raises(GenotypeError, match="not registered"):
        load_genotype(str(tmp_path / "other.json"))


# ------------------------------------------------------------------------- recipes
PUBLISHED = {  # the table (DARTS paper A.2; NB201 Table 2; NAS-Bench-Macro's training script)
    "cifar10-darts": dict(channels=36, cells=20, epochs=600, batch_size=96, lr=0.025, momentum=0.9,
                          weight_decay=3e-4, schedule="cosine", lr_min=0.0, grad_clip=5.0, cutout=16,
                          drop_path=0.2, auxiliary_weight=0.4, nesterov=False, label_smoothing=0.0),
    "imagenet-darts": dict(channels=48, cells=14, epochs=250, batch_size=128, lr=0.1, momentum=0.9,
                           weight_decay=3e-5, schedule="exp", lr_gamma=0.97, label_smoothing=0.1,
                           auxiliary_weight=0.4, grad_clip=5.0, image_size=224, dataset="imagenet",
                           lr_reference_batch=128, drop_path=0.0),
    "cifar10-nb201": dict(channels=16, cells=5, epochs=200, batch_size=256, lr=0.1, nesterov=True, momentum=0.9,
                          weight_decay=5e-4, schedule="cosine", lr_min=0.0, cutout=0, auxiliary_weight=0.0,
                          drop_path=0.0, grad_clip=None, augment=True),
    "cifar10-nb-macro": dict(channels=32, epochs=50, batch_size=256, lr=0.1, momentum=0.9, nesterov=False,
                             weight_decay=5e-4, schedule="cosine", cutout=0, auxiliary_weight=0.0, drop_path=0.0,
                             grad_clip=None, augment=True),
}


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_recipes_hold_the_published_settings(name):
    r = load_recipe(name)
    assert r.name == name
    for key, value in PUBLISHED[name].items():
        assert getattr(r, key) == value, key


def test_linear_lr_scaling_and_overrides():
    assert load_recipe("imagenet-darts").effective_lr == pytest.approx(0.1)
    assert load_recipe("imagenet-darts", {"batch_size": 1024}).effective_lr == pytest.approx(0.8)
    assert load_recipe("cifar10-darts", {"batch_size": 192}).effective_lr == pytest.approx(0.025)  # no scaling
    r = load_recipe("cifar10-darts", {"epochs": 3, "channels": 8})
    assert (r.epochs, r.channels, r.cells) == (3, 8, 20)


def test_recipe_mistakes():
    with pytest.raises(RecipeError, match="cifar10-darts.*cifar10-nb-macro.*cifar10-nb201.*imagenet-darts"):
        load_recipe("cifar11-darts")
    with pytest.raises(RecipeError, match="unknown setting"):
        load_recipe("cifar10-darts", {"epoch": 3})
    with pytest.raises(RecipeError, match="epochs must be a whole number"):
        make_recipe({"epochs": "ten"})
    with pytest.raises(RecipeError, match="amp must be one of"):
        make_recipe({"amp": "fp8"})
    assert make_recipe({"weight_decay": "3e-4"}).weight_decay == pytest.approx(3e-4)  # YAML 1.1 reads 3e-4 as text


# ----------------------------------------------------------------------- DARTS
def test_darts_v2_params_as_darts_counts_them():
    """The DARTS paper reports 3.3M parameters for DARTS (second order) at C=36, 20 cells on CIFAR-10."""
    g = load_genotype("DARTS_V2")
    space = g.space_obj()
    with_aux = space.build_network(g.genotype, NetConfig(channels=36, cells=20, num_classes=10, auxiliary=True))
    without = space.build_network(g.genotype, NetConfig(channels=36, cells=20, num_classes=10, auxiliary=False))
    n = count_params(with_aux)
    assert abs(n - 3.3e6) <= 0.1e6, n
    assert n == sum(p.numel() for p in without.parameters())  # the auxiliary head is not counted
    assert sum(p.numel() for p in with_aux.parameters()) > n


@pytest.mark.slow
def test_tiny_darts_network_trains_with_aux_head_and_drop_path(tmp_path):
    r = Recipe(name="tiny-darts", space="darts", genotype=DARTS_V2_TEXT, dataset="synthetic", synthetic_size=16,
               image_size=32, channels=4, cells=3, auxiliary_weight=0.4, drop_path=0.2, epochs=2, batch_size=8,
               weight_decay=0.0, grad_clip=5.0, cutout=0, workers=0, device="cpu").validate()
    res = train(r, tmp_path / "r", progress=False)
    rows = [json.loads(l) for l in (tmp_path / "r" / "metrics.jsonl").read_text().splitlines()]
    assert [row["drop_path"] for row in rows] == pytest.approx([0.0, 0.1])  # 0.2 * epoch / epochs
    ck = load_checkpoint(tmp_path / "r" / "checkpoints" / "last.pt")
    names = list(ck["model"].keys())
    aux_keys = [k for k in names if k.startswith("auxiliary_head.")]
    assert aux_keys
    g = load_genotype(DARTS_V2_TEXT)
    net = g.space_obj().build_network(g.genotype, NetConfig(channels=4, cells=3, num_classes=10, auxiliary=True,
                                                            input_size=32))
    assert res["params"] == count_params(net) < sum(p.numel() for p in net.parameters())
    # the auxiliary loss reached the auxiliary head: its momentum buffers are non-zero (no weight decay here)
    pnames = [n for n, _ in net.named_parameters()]
    state = ck["optimizer"]["state"]
    aux_idx = [i for i, n in enumerate(pnames) if n.startswith("auxiliary_head.")]
    assert all(state[i]["momentum_buffer"].abs().sum() > 0 for i in aux_idx)


# --------------------------------------------------------------------------- CLI
@pytest.mark.slow
def test_cli_trains_nb_macro_and_resume_returns_result(tmp_path, capsys):
    out = tmp_path / "r"
    assert opscore(["train", "--genotype", "22102122", *TINY_FLAGS, "--out", str(out)]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["recipe"] == "cifar10-nb-macro" and summary["genotype"] == "22102122"
    assert summary["run_dir"] == str(out)
    res = json.loads((out / "result.json").read_text())
    assert res["epochs"] == 1 and res["params"] > 0 and res["flops"] > 0
    # --resume without --genotype reads recipe.yaml; the finished run is reported unchanged
    assert opscore(["train", "--resume", "--out", str(out), "--no-progress"]) == 0
    again = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert again["test_top1"] == res["test_top1"]


@pytest.mark.slow
def test_cli_trains_from_a_search_run_dir(tmp_path, capsys):
    search_dir = tmp_path / "search"
    search_dir.mkdir()
    (search_dir / "result.json").write_text(json.dumps({"space": "nb201", "genotype": NB201}))
    assert opscore(["train", "--genotype", str(search_dir), *TINY_FLAGS, "--out", str(tmp_path / "r")]) == 0
    assert json.loads((tmp_path / "r" / "result.json").read_text())["genotype"] == NB201


@pytest.mark.parametrize("extra, needle", [
    (["--genotype", "2210212"], "8 digits"),
    (["--genotype", NB201, "--recipe", "nope"], "unknown recipe 'nope'"),
    (["--genotype", NB201, "--set", "epoch=3"], "unknown setting(s) epoch"),
    (["--genotype", NB201, "--set", "schedule=linear"], "unknown lr schedule 'linear'"),
    (["--genotype", NB201, "--recipe", "cifar10-darts", "--cells", "1"], "no drop-path"),
    (["--genotype", NB201, "--recipe", "cifar10-darts", "--cells", "1", "--drop-path", "0"], "no auxiliary head"),
    (["--genotype", NB201, "--batch-size", "0"], "batch_size must be at least 2, got 0"),
    (["--genotype", NB201, "--dataset", "imagefolder", "--data-root", "/nonexistent/dir"], "does not exist"),
    ([], "--genotype is required"),
])
def test_cli_mistakes_one_line(tmp_path, capsys, extra, needle):
    flags = [f for f in TINY_FLAGS]
    assert opscore(["train", *flags, *extra, "--out", str(tmp_path / "r")]) == 2
    err = [l for l in capsys.readouterr().err.splitlines() if "error" in l]
    assert len(err) == 1 and needle in err[0], err


@pytest.mark.slow
def test_module_entry_point_errors_without_traceback(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "train_final", "--genotype", "Genotype(normal=[", *TINY_FLAGS,
                           "--out", str(tmp_path / "r")], capture_output=True, text=True,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = [l for l in proc.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and lines[0].startswith("train_final: error:") and "DARTS genotype" in lines[0]


def test_existing_run_dir_refused_by_cli(tmp_path, capsys):
    out = tmp_path / "r"
    assert opscore(["train", "--genotype", NB201, *TINY_FLAGS, "--out", str(out)]) == 0
    assert opscore(["train", "--genotype", NB201, *TINY_FLAGS, "--out", str(out)]) == 2
    assert "--resume" in capsys.readouterr().err
    assert opscore(["train", "--genotype", NB201, *TINY_FLAGS, "--lr", "0.3", "--resume", "--out", str(out)]) == 2
    assert "settings differ (lr)" in capsys.readouterr().err
