"""MobileNet-like (ProxylessNAS GPU) space: parameter counts by hand, genotype text/JSON, malformed genotypes,
arch-state edits, stride schedules, removed ops never run, and a tiny search end to end."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from search.plugins import search_config
from search.search_run import run_search
from supernet.spaces import get_space
from supernet.spaces.space import GenotypeError, NetConfig
from supernet.spaces.mobilenet import MBConv, MobileNetGenotype

SPACE = get_space("mobilenet")
TOKENS = ("k3e3", "k3e6", "k5e3", "k5e6", "k7e3", "k7e6", "skip")
FIRST = (0, 4, 8, 12, 16, 20)  # the first layer of each stage: no skip
EXAMPLE = "k3e6,skip,k5e3,k7e6,k5e6,k3e3,skip,skip,k7e3,k5e3,k3e6,k7e6,k3e3,skip,k5e6,k3e3,k7e6,k5e3,skip,k3e3,k5e6"


def hand_count(tokens: list[str], classes: int) -> int:
    """Parameters worked out from the block definitions (conv weights, 2 per BN channel, linear w + b):
    MBConv(c_in -> c_out, kernel k, expansion e), hidden h = e c_in:
    [e > 1] (c_in h + 2h)  +  h k^2 + 2h  +  h c_out + 2 c_out."""
    def mb(c_in: int, c_out: int, k: int, e: int) -> int:
        h = c_in * e
        return (c_in * h + 2 * h if e > 1 else 0) + h * k * k + 2 * h + h * c_out + 2 * c_out

    total = 3 * 40 * 9 + 2 * 40 + mb(40, 24, 3, 1)  # stem conv3x3 + BN, fixed MBConv e1 k3 to 24
    widths = [32] * 4 + [56] * 4 + [112] * 4 + [128] * 4 + [256] * 4 + [432]
    c = 24
    for tok, out in zip(tokens, widths):
        if tok != "skip":
            total += mb(c, out, int(tok[1]), int(tok[3]))
            c = out
    return total + c * 1728 + 2 * 1728 + 1728 * classes + classes  # head conv1x1 + BN, linear


def n_params(net: torch.nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


@pytest.mark.slow
def test_param_count_equals_the_hand_count():
    # all-k3e3 at 1000 classes by stage: stem 1,160 + fixed block 1,448; stages 27,400 + 73,144 + 270,200 +
    # 395,920 + 1,364,096 + 539,232; head 749,952; linear 1,729,000 (the closed form does this sum for any genotype)
    assert hand_count(["k3e3"] * 21, 1000) == 1_160 + 1_448 + 27_400 + 73_144 + 270_200 + 395_920 + 1_364_096 \
        + 539_232 + 749_952 + 1_729_000 == 5_151_552
    for text in (EXAMPLE, ",".join(["k7e6"] * 21), ",".join(["k3e3"] * 21)):
        for classes in (10, 1000):
            g = SPACE.parse_genotype(text)
            for size in (32, 224):  # the stride schedule changes no parameter
                net = SPACE.build_network(g, NetConfig(channels=40, num_classes=classes, input_size=size))
                assert n_params(net) == hand_count(text.split(","), classes), (text, classes, size)


def test_genotype_text_and_json_round_trip():
    g = SPACE.parse_genotype(EXAMPLE)
    assert g == MobileNetGenotype(tuple(EXAMPLE.split(","))) and SPACE.format_genotype(g) == EXAMPLE
    assert SPACE.parse_genotype(" " + EXAMPLE.replace(",", " , ") + "\n") == g  # blanks around tokens
    data = json.loads(json.dumps(SPACE.genotype_to_json(g)))
    assert data == EXAMPLE.split(",") and SPACE.genotype_from_json(data) == g
    assert SPACE.genotype_from_json(EXAMPLE) == g


@pytest.mark.parametrize("bad, needle", [
    (",".join(["k3e3"] * 20), "21 comma-separated tokens .* got 20"),
    (",".join(["k3e3"] * 22), "got 22"),
    ("", "got 1"),
    (EXAMPLE.replace("k5e3", "k9e3", 1), "layer 2 has unknown token 'k9e3'"),
    (EXAMPLE.replace("k3e6", "K3E6", 1), "layer 0 has unknown token 'K3E6'"),
    ("skip," + EXAMPLE.split(",", 1)[1], "layer 0 is the first layer of a stage and cannot be 'skip'"),
    (",".join(["k3e3"] * 4 + ["skip"] + ["k3e3"] * 16), "layer 4 is the first layer"),
    (",".join(["k3e3"] * 20 + ["skip"]), "layer 20 is the first layer"),
])
def test_malformed_genotypes_get_one_line(bad, needle):
    with pytest.raises(GenotypeError, match=needle) as e:
        SPACE.parse_genotype(bad)
    assert "\n" not in str(e.value)


def test_malformed_json_is_rejected():
    with pytest.raises(GenotypeError, match="list of 21 tokens"):
        SPACE.genotype_from_json({"ops": []})
    with pytest.raises(GenotypeError, match="unknown token"):
        SPACE.genotype_from_json(["k3e3"] * 20 + [3])


def test_edges_and_candidates():
    cands = SPACE.candidates()
    assert list(cands) == [f"layer:{i}" for i in range(21)]
    for i, (e, ops) in enumerate(cands.items()):
        assert ops == (TOKENS[:6] if i in FIRST else TOKENS), e
    assert sum(len(o) for o in cands.values()) == 6 * 6 + 15 * 7  # perturbations per proposal iteration: 141


def test_state_from_genotype_inverts_genotype_from_state():
    rng = np.random.default_rng(0)
    for _ in range(20):
        toks = [str(rng.choice(TOKENS[:6] if i in FIRST else TOKENS)) for i in range(21)]
        g = SPACE.parse_genotype(",".join(toks))
        state = SPACE.state_from_genotype(g)
        assert state.undecided() == [] and SPACE.genotype_from_state(state) == g
        assert all(state.active(f"layer:{i}") == (t,) for i, t in enumerate(toks))


def test_stride_schedules_keep_a_sensible_final_map():
    g = SPACE.parse_genotype(EXAMPLE)
    for size, final in ((32, 4), (224, 7), (64, 8), (96, 3)):
        net = SPACE.build_network(g, NetConfig(channels=8, num_classes=5, input_size=size)).eval()
        with torch.no_grad():
            feats = net.head(net.layers(net.stem(torch.randn(1, 3, size, size))))
            assert feats.shape[-2:] == (final, final) and net(torch.randn(2, 3, size, size)).shape == (2, 5)


def test_mbconv_block_structure():
    block = MBConv(8, 8, 1, 5, 3)
    convs = [m for m in block.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [(c.in_channels, c.out_channels, c.kernel_size, c.groups) for c in convs] == \
        [(8, 24, (1, 1), 1), (24, 24, (5, 5), 24), (24, 8, (1, 1), 1)]
    relus = [m for m in block.modules() if isinstance(m, torch.nn.ReLU6)]
    assert len(relus) == 2 and block.residual
    assert not MBConv(8, 16, 1, 3, 6).residual and not MBConv(8, 8, 2, 3, 6).residual
    x = torch.randn(2, 8, 6, 6)
    block.eval()
    with torch.no_grad():
        assert torch.allclose(block(x), block.body(x) + x)


def _supernet(mixing: str = "uniform"):
    state = SPACE.new_state()
    torch.manual_seed(0)
    net = SPACE.build_supernet(state, NetConfig(channels=8, num_classes=4, mixing=mixing, input_size=16)).eval()
    return state, net


def features(net: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The head's output: with BN on running statistics (identity) and the published fan-out init the
    untrained signal shrinks layer by layer, so compare features, not logits dominated by the bias."""
    return net.head(net.layers(net.stem(x)))


@pytest.mark.slow
def test_edits_restore_the_state_and_the_output_exactly():
    state, net = _supernet()
    x = torch.randn(3, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        y0 = features(net, x)
        snap = state.snapshot()
        for e, op in (("layer:5", "skip"), ("layer:5", "k7e6"), ("layer:0", "k3e3")):
            with state.perturb(e, op):
                assert op not in state.active(e) and not torch.equal(features(net, x), y0)
            assert state.snapshot() == snap and torch.equal(features(net, x), y0)
            with state.discretize(e, op):
                assert state.active(e) == (op,) and not torch.equal(features(net, x), y0)
            assert state.snapshot() == snap and torch.equal(features(net, x), y0)
        with pytest.raises(RuntimeError), state.perturb("layer:3", "k5e3"):
            raise RuntimeError("restored on exceptions too")
        assert state.snapshot() == snap and torch.equal(features(net, x), y0)


def test_removed_ops_never_run_and_skip_is_the_identity():
    state, net = _supernet("sum")
    layer = net.layers[1].op  # layer:1, 7 candidates
    ran: list[str] = []
    for name, op in layer.ops.items():
        op.register_forward_hook(lambda m, i, o, name=name: ran.append(name))
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad(), state.perturb("layer:1", "k5e6"):
        net(x)
    assert "k5e6" not in ran and set(ran) == set(TOKENS) - {"k5e6"}
    # mixing 'sum' (the published supernet): the layer outputs the plain sum of its active ops, skip = x
    h = torch.randn(2, 8, 16, 16)
    with torch.no_grad():
        expected = h + sum(layer.ops[o](h) for o in TOKENS[:6])
        assert torch.allclose(layer(h), expected, atol=1e-5)
        with state.discretize("layer:1", "skip"):
            assert torch.equal(layer(h), h)


@pytest.mark.slow
def test_tiny_search_runs_at_two_image_sizes(tmp_path):
    for size in (None, 48):
        cfg = search_config(space="mobilenet", dataset="synthetic", channels=8, val_channels=8, batch_size=4,
                           iterations=1, validation_batches=1, seed=0, image_size=size, order="fixed")
        res = run_search(cfg, tmp_path / f"run{size}", progress=False)
        g = SPACE.parse_genotype(res["genotype"])
        assert SPACE.format_genotype(g) == res["genotype"] and res["perturbations_per_iteration"] == 141
        assert res["genotype_json"] == list(g.ops)


def test_retraining_sources_detect_the_space(tmp_path):
    from train_final.cli import default_recipe
    from train_final.genotypes import load_genotype
    loaded = load_genotype(EXAMPLE)
    assert (loaded.space, loaded.text) == ("mobilenet", EXAMPLE) and default_recipe("mobilenet") == "cifar10-mobilenet"
    with pytest.raises(GenotypeError, match="layer 0 is the first layer"):
        load_genotype("skip," + EXAMPLE.split(",", 1)[1])
    (tmp_path / "g.json").write_text(json.dumps(EXAMPLE.split(",")))
    assert load_genotype(str(tmp_path / "g.json")).text == EXAMPLE
    (tmp_path / "r.json").write_text(json.dumps({"space": "mobilenet", "genotype": EXAMPLE,
                                                 "genotype_json": EXAMPLE.split(",")}))
    assert load_genotype(str(tmp_path / "r.json")).genotype == SPACE.parse_genotype(EXAMPLE)


@pytest.mark.slow
@pytest.mark.parametrize("proxy", __import__("scoring.proxies", fromlist=["PROXIES"]).PROXIES.names())
def test_every_proxy_scores_the_supernet_and_leaves_it_unchanged(proxy):
    """Every proxy runs on a perturbed mobilenet supernet (ReLU6 units, skip ops), on a tiny batch."""
    from scoring.proxies import get_proxy
    state = SPACE.new_state()
    torch.manual_seed(0)
    net = SPACE.build_supernet(state, NetConfig(channels=8, num_classes=4, input_size=16)).eval()
    x = torch.randn(3, 3, 16, 16, generator=torch.Generator().manual_seed(2))
    y = torch.tensor([0, 1, 2])
    before = {k: v.clone() for k, v in net.state_dict().items()}
    with get_proxy(proxy, bn_mode="batch").session(net) as ev, state.perturb("layer:2", "k7e6"):
        score = ev(x, y)
    assert isinstance(score, float) and not np.isnan(score)
    after = net.state_dict()
    assert all(torch.equal(v, after[k]) for k, v in before.items())
