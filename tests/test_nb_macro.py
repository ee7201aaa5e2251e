"""NAS-Bench-Macro space: genotype strings, network shapes and sizes, supernet = network, a search runs."""
import itertools
import json
import random

import pytest
import torch
import torch.nn.functional as F

from search.plugins import search_config
from search.search_run import run_search
from supernet.spaces import get_space
from supernet.spaces.space import GenotypeError, NetConfig
from supernet.spaces.nb_macro import NB_MACRO_LAYERS, NB_MACRO_OPS, MacroIdentity, NBMacroGenotype, parse_nb_macro

SPACE = get_space("nb-macro")



def test_every_string_round_trips():
    n = 0
    for choices in itertools.product((0, 1, 2), repeat=8):
        g = NBMacroGenotype(choices)
        assert parse_nb_macro(str(g)) == g and SPACE.format_genotype(g) == "".join(map(str, choices))
        n += 1
    assert n == 6561


@pytest.mark.parametrize("bad, needle", [
    ("2210212", "8 digits"),
    ("221021220", "8 digits"),
    ("2210a122", "8 digits"),
    ("22103122", "layer 4 has choice '3'"),
    ("", "8 digits"),
])
def test_malformed_strings_rejected(bad, needle):
    with pytest.raises(GenotypeError, match=needle):
        SPACE.parse_genotype(bad)


def expected_params(arch: str, c: int = 32, classes: int = 10) -> int:
    """Closed form, worked by hand: conv weights + 2 per BN channel, per block of the paper's table."""
    total = 3 * c * 9 + 2 * c  # stem conv3x3 + BN
    stages = [2, 3, 3]
    digits = list(arch)
    for depth in stages:
        for i in range(depth):
            d = digits.pop(0)
            c_in, c_out = (c, 2 * c) if i == 0 else (c, c)
            if d == "0":
                total += (c_in * c_out + 2 * c_out) if c_in != c_out else 0
            else:
                t, k = (3, 3) if d == "1" else (6, 5)
                h = c_in * t
                total += c_in * h + 2 * h + h * k * k + 2 * h + h * c_out + 2 * c_out
            if i == 0:
                c = 2 * c
    return total + c * 1280 + 2 * 1280 + 1280 * classes + classes


def n_params(net: torch.nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


@pytest.mark.slow
def test_param_counts_match_closed_form():
    assert expected_params("00000000") == 387_882  # stem 928 + 2176 + 8448 + 33280 + head 330240 + fc 12810
    rng = random.Random(0)
    archs = ["00000000", "11111111", "22222222", "22102122"] + \
        ["".join(rng.choice("012") for _ in range(8)) for _ in range(6)]
    for a in archs:
        net = SPACE.build_network(SPACE.parse_genotype(a), NetConfig(channels=32, num_classes=10))
        assert n_params(net) == expected_params(a), a


def test_stages_halve_resolution_and_double_channels():
    net = SPACE.build_network(SPACE.parse_genotype("12012012"), NetConfig(channels=8, num_classes=5)).eval()
    x = torch.randn(2, 3, 32, 32)
    shapes = []
    h = net.stem(x)
    for layer in net.layers:
        h = layer(h)
        shapes.append(tuple(h.shape[1:]))
    assert shapes == [(16, 16, 16)] * 2 + [(32, 8, 8)] * 3 + [(64, 4, 4)] * 3
    assert net(x).shape == (2, 5)


def test_canonical_form_moves_identities_to_stage_ends():
    assert str(parse_nb_macro("22102122").canonical()) == "22120122"
    assert str(parse_nb_macro("00000000").canonical()) == "00000000"
    assert str(parse_nb_macro("10001020").canonical()) == "10010020"  # stage heads stay; 0s after the rest
    assert str(parse_nb_macro("20201100").canonical()) == "20210100"


def test_decided_supernet_computes_the_standalone_network():
    """With every edge decided, the supernet is the network (affine-free BN = BN with weight 1, bias 0)."""
    torch.manual_seed(0)
    arch = "21012201"
    st = SPACE.new_state()
    cfg = NetConfig(channels=4, num_classes=3)
    sup = SPACE.build_supernet(st, cfg)
    for e, d in zip(NB_MACRO_LAYERS, arch):
        st.decide(e, NB_MACRO_OPS[int(d)])
    net = SPACE.build_network(SPACE.parse_genotype(arch), cfg)
    sd, mine = sup.state_dict(), {}
    for key in net.state_dict():
        parts = key.split(".")
        if parts[0] == "layers":
            src = ".".join(["layers", parts[1], "op", "ops", NB_MACRO_OPS[int(arch[int(parts[1])])], *parts[2:]])
        else:
            src = key
        if src in sd:
            mine[key] = sd[src]
    missing = net.load_state_dict(mine, strict=False).missing_keys
    assert missing and all(k.endswith(("weight", "bias")) for k in missing)  # only the BN affine pairs
    x = torch.randn(4, 3, 16, 16)
    assert torch.allclose(sup(x), net(x), atol=1e-5)
    assert SPACE.format_genotype(SPACE.genotype_from_state(st)) == arch


def test_mixed_supernet_reads_the_state():
    torch.manual_seed(0)
    st = SPACE.new_state()
    sup = SPACE.build_supernet(st, NetConfig(channels=4, num_classes=3)).eval()
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        y = sup(x)
        with st.perturb("layer:3", "mb6_k5"):
            assert not torch.allclose(sup(x), y)
        assert torch.equal(sup(x), y)
        with st.without_edge("layer:3"), pytest.raises(RuntimeError, match="cannot drop a layer"):
            sup(x)


@pytest.mark.slow
def test_search_runs_on_synthetic_data(tmp_path):
    cfg = search_config(space="nb-macro", dataset="synthetic", channels=4, val_channels=4, batch_size=8,
                       iterations=1, validation_batches=1, seed=1).validate()
    res = run_search(cfg, tmp_path / "run", progress=False)
    g = parse_nb_macro(res["genotype"])
    assert res["space"] == "nb-macro" and res["perturbations_per_iteration"] == 8 * 3
    rows = [json.loads(l) for l in (tmp_path / "run" / "decisions.jsonl").read_text().splitlines()]
    assert sorted(r["edge"] for r in rows if r["iteration"] == 0) == sorted(NB_MACRO_LAYERS)
    winner_rows = {r["edge"]: r["choice"] for r in rows if r["iteration"] == 0}
    cands = json.loads((tmp_path / "run" / "candidates.json").read_text())
    assert res["genotype"] in [c["genotype"] for c in cands]
    assert len(g.choices) == 8 and set(winner_rows.values()) <= set(NB_MACRO_OPS)


@pytest.mark.parametrize("size", [(8, 8), (7, 5)])
def test_strided_identity_is_a_stride_2_pointwise_conv_and_bn(size):
    """Choice 0 across a stage boundary: 1x1 conv with stride 2 (output ceil(H/2)) and BN, as the reference."""
    torch.manual_seed(0)
    layer = MacroIdentity(4, 6, 2).eval()
    x = torch.randn(2, 4, *size)
    bn = layer.proj[1]
    ref = F.batch_norm(F.conv2d(x, layer.proj[0].weight, stride=2), bn.running_mean, bn.running_var, bn.weight,
                       bn.bias, training=False)
    assert torch.allclose(layer(x), ref, atol=1e-6)


def test_small_supernet_trains_on_channels_last():
    """C=4 (4 -> 8 channels at the first stride-2 identity): torch 2.14's channels-last stride-2 1x1 conv weight
    gradient crashed the process there. The gradients equal those of the contiguous network."""
    space = get_space("nb-macro")
    torch.manual_seed(0)
    net = space.build_supernet(space.new_state(), NetConfig(channels=4))
    x = torch.randn(8, 3, 16, 16)
    grads = []
    for mem in (torch.contiguous_format, torch.channels_last):
        net = net.to(memory_format=mem)
        net.zero_grad()
        net(x.to(memory_format=mem)).sum().backward()
        grads.append([p.grad.clone() for p in net.parameters()])
    for a, b in zip(*grads):
        assert torch.allclose(a, b, rtol=1e-3, atol=1e-3 * float(a.abs().max()))
