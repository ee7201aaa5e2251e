"""Supernet training: Dirichlet mixing, the exact second-order gradient, the -TSE sum, planted toys, resume."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from search.supernet_train.architects import ARCHITECTS, ArchSettings, unrolled_alpha_grads
from search.supernet_train.config import SupernetTrainConfig
from search.supernet_train.supernet_run import train_supernet
from search.supernet_train.trainer import SupernetTrainer, WeightSettings, init_alphas
from supernet.mixing import MIXING
from supernet.spaces import get_space
from supernet.spaces.space import NetConfig
from runtime.data import SyntheticImages

from test_supernet_train_toy import ToyData, ToySpace

CANDS = ("none", "a", "b", "c")
ROOT = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------ DrNAS's Dirichlet mixing
def test_dirichlet_sample_is_on_the_simplex_and_differentiable():
    torch.manual_seed(0)
    alpha = torch.tensor([0.3, -0.5, 1.2, 0.0], requires_grad=True)
    w = torch.stack(MIXING.get("dirichlet")(alpha, CANDS, CANDS))
    assert torch.all(w >= 0) and torch.isclose(w.sum(), torch.tensor(1.0))
    (w * torch.tensor([1.0, 2.0, 3.0, 4.0])).sum().backward()  # reparameterised: a pathwise gradient
    assert alpha.grad is not None and torch.isfinite(alpha.grad).all() and alpha.grad.abs().sum() > 0
    # a fresh sample every call
    w2 = torch.stack(MIXING.get("dirichlet")(alpha, CANDS, CANDS))
    assert not torch.allclose(w.detach(), w2.detach())
    # over the active ops only, still on the simplex
    ws = torch.stack(MIXING.get("dirichlet")(alpha, CANDS, ("a", "c")))
    assert ws.shape == (2,) and torch.isclose(ws.sum(), torch.tensor(1.0))


@pytest.mark.slow
def test_dirichlet_sample_mean_and_the_mean_rule():
    """E[w] = beta / sum(beta) with beta = ELU(alpha) + 1 (hand formula); dirichlet-mean drops removed
    ops without renormalising."""
    torch.manual_seed(1)
    alpha = torch.tensor([0.3, -0.5, 1.2, 0.0])
    beta = torch.tensor([1.3, torch.exp(torch.tensor(-0.5)).item(), 2.2, 1.0])
    mean = torch.stack([torch.stack(MIXING.get("dirichlet")(alpha, CANDS, CANDS)) for _ in range(4000)]).mean(0)
    assert torch.allclose(mean, beta / beta.sum(), atol=0.01)
    exact = torch.stack(MIXING.get("dirichlet-mean")(alpha, CANDS, ("none", "b", "c")))
    assert torch.allclose(exact, (beta / beta.sum())[[0, 2, 3]])


def test_kl_regulariser_matches_the_closed_form():
    """KL(Dir(beta) || Dir(1)) = lnG(sum b) - sum lnG(b) - lnG(K) + sum (b - 1)(psi(b) - psi(sum b))."""
    st = ToySpace(("e",)).new_state()
    alphas = init_alphas(st, 0.7)
    arch = ARCHITECTS.get("drnas")(nn.Linear(1, 1), alphas, ArchSettings(reg="kl", reg_scale=0.5))
    b = F.elu(alphas["e"].detach()) + 1
    K, s = len(b), b.sum()
    kl = (torch.lgamma(s) - torch.lgamma(b).sum() - torch.lgamma(torch.tensor(float(K)))
          + ((b - 1) * (torch.digamma(b) - torch.digamma(s))).sum())
    assert torch.isclose(arch.regulariser().detach(), 0.5 * kl)
    assert arch.optimizer.param_groups[0]["weight_decay"] == 0.0  # KL replaces the L2 weight decay
    l2 = ARCHITECTS.get("drnas")(nn.Linear(1, 1), alphas, ArchSettings(reg="l2", reg_scale=0.25))
    assert l2.regulariser() is None and l2.optimizer.param_groups[0]["weight_decay"] == 0.25


# ------------------------------------------------------------ DARTS second order (unrolled)
def _tiny_nb201(seed: int = 0):
    torch.manual_seed(seed)
    space = get_space("nb201")
    st = space.new_state()
    alphas = init_alphas(st, 0.5)
    model = space.build_supernet(st, NetConfig(channels=2, cells=1, num_classes=3, mixing="softmax")).double()
    for e in st.edge_ids():
        alphas[e].data = alphas[e].data.double()
    return st, alphas, model


def _unrolled_val_loss(model, train, valid, lr, momentum, wd, bufs):
    """Independent path: L_val after one explicit SGD step (momentum, weight decay) on a copy."""
    m = copy.deepcopy(model)
    params = [p for p in m.parameters()]
    grads = torch.autograd.grad(F.cross_entropy(m(train[0]), train[1]), params, allow_unused=True)
    with torch.no_grad():
        for p, g, b in zip(params, grads, bufs):
            d = wd * p + (0 if g is None else g)
            if b is not None:
                d = d + momentum * b
            p.sub_(lr * d)
    return float(F.cross_entropy(m(valid[0]), valid[1]).detach())


def _shift(params, delta):
    with torch.no_grad():
        i = 0
        for p in params:
            p += delta[i:i + len(p)]
            i += len(p)


@pytest.mark.slow
def test_second_order_gradient_matches_finite_differences():
    st, alphas, model = _tiny_nb201()
    g = torch.Generator().manual_seed(3)
    train = (torch.randn(4, 3, 8, 8, generator=g, dtype=torch.float64), torch.tensor([0, 1, 2, 1]))
    valid = (torch.randn(4, 3, 8, 8, generator=g, dtype=torch.float64), torch.tensor([2, 0, 1, 1]))
    opt = torch.optim.SGD(model.parameters(), lr=0.3, momentum=0.9, weight_decay=3e-4)
    F.cross_entropy(model(train[0]), train[1]).backward()  # one real step: momentum buffers exist
    opt.step()
    opt.zero_grad()
    bufs = [opt.state[p].get("momentum_buffer") for p in model.parameters()]
    params = [alphas[e] for e in st.edge_ids()]
    grads, _, _ = unrolled_alpha_grads(model, params, train, valid, opt)
    analytic = torch.cat([torch.zeros_like(p) if gr is None else gr for p, gr in zip(params, grads)])
    # directional central differences along random directions of the whole alpha vector
    h, gen = 1e-6, torch.Generator().manual_seed(11)  # small h: ReLU kinks make the loss only piecewise smooth
    for _ in range(4):
        v = torch.randn(len(analytic), generator=gen, dtype=torch.float64)
        vals = []
        for sign in (1, -1):
            _shift(params, sign * h * v)
            vals.append(_unrolled_val_loss(model, train, valid, 0.3, 0.9, 3e-4, bufs))
            _shift(params, -sign * h * v)
        numeric = (vals[0] - vals[1]) / (2 * h)
        assert abs(numeric - float(analytic @ v)) <= 1e-6 * max(1.0, abs(numeric)), (numeric, float(analytic @ v))
    assert analytic.abs().max() > 1e-4
    # and it differs from the first-order gradient (the unrolled term matters here)
    first = torch.autograd.grad(F.cross_entropy(model(valid[0]), valid[1]), params)
    assert not torch.allclose(torch.cat(first), analytic, atol=1e-6)


# ------------------------------------------------------------------------ -TSE summation
@pytest.mark.parametrize("method", ["darts-tse", "drnas-tse"])
def test_tse_update_equals_hand_summed_gradients(method):
    K = 3
    space = ToySpace(("e1", "e2"))
    arch_cls = ARCHITECTS.get(method)
    torch.manual_seed(0)
    st = space.new_state()
    alphas = init_alphas(st, 0.3)
    model = space.build_supernet(st, NetConfig(num_classes=2, mixing=arch_cls.mixing))
    ref_model = copy.deepcopy(model)  # its mixed ops read the copied state's alphas
    ref_alphas = [ref_model.edges[e].alphas[e] for e in ("e1", "e2")]
    settings = ArchSettings(lr=0.05, tse_steps=K, reg_scale=1e-3)
    trainer = SupernetTrainer(model, alphas, arch_cls(model, alphas, settings),
                              WeightSettings(lr=0.1, epochs=None, grad_clip=5.0))
    data = ToyData(64, seed=2)
    batches = [(data.x[i:i + 16], data.y[i:i + 16]) for i in range(0, 64, 16)]
    a0 = [a.detach().clone() for a in alphas.values()]

    torch.manual_seed(5)
    for k in range(K):
        trainer.step(batches[k], None, update_arch=True)
        if k < K - 1:  # no alpha update inside the block
            assert all(torch.equal(a, b) for a, b in zip(alphas.values(), a0))
    got = [a.detach().clone() for a in alphas.values()]

    # by hand: plain SGD steps, alpha-gradients of each step's training loss at its pre-update weights, summed
    torch.manual_seed(5)
    w_opt = torch.optim.SGD(ref_model.parameters(), lr=0.1, momentum=0.9, weight_decay=3e-4)
    total = [torch.zeros_like(a) for a in ref_alphas]
    for k in range(K):
        w_opt.zero_grad()
        loss = F.cross_entropy(ref_model(batches[k][0]), batches[k][1])
        for t, g in zip(total, torch.autograd.grad(loss, ref_alphas, retain_graph=True)):
            t += g
        loss.backward()
        nn.utils.clip_grad_norm_(list(ref_model.parameters()), 5.0)
        w_opt.step()
    wd = 1e-3 if method == "drnas-tse" else settings.weight_decay  # DrNAS: L2 strength = reg_scale
    adam = torch.optim.Adam(ref_alphas, lr=0.05, betas=(0.5, 0.999), weight_decay=wd)
    for a, t in zip(ref_alphas, total):
        a.grad = t
    adam.step()
    for g_, r in zip(got, ref_alphas):
        assert torch.allclose(g_, r.detach(), atol=1e-7), (g_, r)
    assert not all(torch.equal(a, b) for a, b in zip(got, a0))
    for p, q in zip(model.parameters(), ref_model.parameters()):
        assert torch.allclose(p, q, atol=1e-7)


# ---------------------------------------------------------------------- planted toy (DARTS)
@pytest.mark.slow
@pytest.mark.parametrize("method", ["darts", "darts-2nd", "drnas", "darts-tse", "drnas-tse"])
def test_training_on_a_planted_toy_drives_the_planted_alpha_up(tmp_path, method):
    cfg = SupernetTrainConfig(space="toy", method=method, epochs=6, batch_size=32, seed=0, lr=0.1, lr_min=0.01,
                              arch_lr=0.05, tse_steps=2, eval_batches=2, channels_last=False)
    res = train_supernet(cfg, tmp_path / "run", progress=False, space=ToySpace(), dataset=ToyData(512, seed=1))
    assert res["genotype"] == "signal-signal"
    hist = [json.loads(l) for l in (tmp_path / "run" / "history.jsonl").read_text().splitlines()]
    for e in ("e1", "e2"):
        first, last = hist[0]["weights"][e], hist[-1]["weights"][e]
        assert last["signal"] == max(last.values())
        assert last["signal"] > first["signal"] + 0.02
    assert hist[-1]["eval_acc"] > 0.8


# -------------------------------------------------------------------------------- resume
def _tiny_cfg(method: str) -> SupernetTrainConfig:
    # on the CPU: bit-exact resume needs deterministic kernels, which cuDNN's backward is not (seen on an H200)
    return SupernetTrainConfig(space="nb201", method=method, epochs=3, batch_size=16, seed=4, channels=2, cells=1,
                               tse_steps=2, eval_batches=1, arch_lr=0.01, device="cpu")


def _data():
    return SyntheticImages(96, 10, image_size=8, seed=0)


@pytest.mark.slow
@pytest.mark.parametrize("method", ["darts", "drnas-tse"])
def test_resume_after_an_interrupted_epoch_continues_exactly(tmp_path, method):
    full = train_supernet(_tiny_cfg(method), tmp_path / "full", progress=False, dataset=_data())

    def kill(epoch: int, step: int) -> None:
        if epoch == 1 and step == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_supernet(_tiny_cfg(method), tmp_path / "part", progress=False, dataset=_data(), on_step=kill)
    assert not (tmp_path / "part" / "result.json").exists()
    resumed = train_supernet(_tiny_cfg(method), tmp_path / "part", resume=True, progress=False, dataset=_data())
    assert resumed["genotype"] == full["genotype"]
    a = torch.load(tmp_path / "full" / "checkpoint.pt", weights_only=True)
    b = torch.load(tmp_path / "part" / "checkpoint.pt", weights_only=True)
    for k, v in a["trainer"]["model"].items():
        assert torch.equal(v, b["trainer"]["model"][k]), k
    for e, v in a["trainer"]["alphas"].items():
        assert torch.equal(v, b["trainer"]["alphas"][e]), e
    strip = lambda rows: [{k: v for k, v in r.items() if k != "seconds"} for r in rows]  # noqa: E731
    assert strip(a["history"]) == strip(b["history"])
    if method == "drnas-tse":  # K = 2 with 3 steps per epoch: the partial sum crosses epochs
        assert b["trainer"]["architect"]["count"] == a["trainer"]["architect"]["count"]


@pytest.mark.slow
def test_run_directory_and_supernet_file(tmp_path):
    train_supernet(_tiny_cfg("darts"), tmp_path / "r", progress=False, dataset=_data())
    d = tmp_path / "r"
    for name in ("config.yaml", "checkpoint.pt", "supernet.pt", "history.jsonl", "result.json", "train.log"):
        assert (d / name).is_file(), name
    assert any((d / "tb").iterdir())
    sn = torch.load(d / "supernet.pt", weights_only=True)
    assert sn["format"] == "opscore-supernet" and sn["space"] == "nb201" and sn["method"] == "darts"
    assert set(sn["alphas"]) == set(get_space("nb201").candidates()) and sn["eval_mixing"] == "softmax-fixed"
    assert sn["split"] == {"size": 96, "portion": 0.5, "seed": 4} and sn["epoch"] == 3
    from runtime.rundir import RunFolderError
    with pytest.raises(RunFolderError, match="--resume"):
        train_supernet(_tiny_cfg("darts"), d, progress=False, dataset=_data())
    with pytest.raises(RunFolderError, match="settings differ"):
        train_supernet(_tiny_cfg("drnas"), d, resume=True, progress=False, dataset=_data())


@pytest.mark.slow
def test_tensorboard_gets_scalars_and_the_alpha_heatmap(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    cfg = SupernetTrainConfig(space="toy", method="darts", epochs=2, batch_size=32, eval_batches=1, channels_last=False)
    train_supernet(cfg, tmp_path / "r", progress=False, space=ToySpace(), dataset=ToyData(128))
    acc = EventAccumulator(str(tmp_path / "r" / "tb"), size_guidance={"images": 0})
    acc.Reload()
    assert {"train/loss", "eval/acc", "lr", "arch/alpha_entropy"} <= set(acc.Tags()["scalars"])
    assert [e.step for e in acc.Images("alphas")] == [1, 2]
    assert [e.step for e in acc.Scalars("lr")] == [1, 2]


# --------------------------------------------------------------------- documented configs
CONFIGS = sorted((ROOT / "configs").glob("supernet-*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_config_files_hold_the_published_settings(path):
    from runtime.settings import load_settings
    from search.plugins import load_search_config
    if path.name.startswith("supernet-train-"):
        cfg = load_settings(SupernetTrainConfig, str(path), {})
        assert (cfg.lr, cfg.lr_min, cfg.momentum, cfg.weight_decay, cfg.grad_clip) == (0.025, 0.001, 0.9, 3e-4, 5.0)
        assert (cfg.arch_lr, cfg.arch_beta1, cfg.arch_beta2, cfg.batch_size, cfg.train_portion) == \
            (3e-4, 0.5, 0.999, 64, 0.5)
        assert path.name == f"supernet-train-{cfg.method}-{cfg.space}.yaml"
        assert cfg.resolved_epochs() == ({"darts-tse": 50}.get(cfg.method, 100) if cfg.space == "nb201" else 50)
        if cfg.method.endswith("-tse"):
            assert cfg.tse_steps == 100
    else:
        cfg = load_search_config(str(path), {})
        assert cfg.scorer in ("darts-alpha", "darts-pt", "disc-acc") and cfg.iterations == 1
        if cfg.scorer != "darts-alpha":
            assert (cfg.tune_epochs, cfg.tune_lr) == (5.0, 0.0025)
            assert cfg.fix_alpha == ("fix-alpha" in path.name)
