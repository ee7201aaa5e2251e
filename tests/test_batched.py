"""Batched perturbations (one grouped forward per edge) agree with one forward per perturbation."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from scoring.proxies import get_proxy
from scoring.scorers import SCORERS, ScoringContext
from supernet.arch_state import ArchStateError
from supernet.grouped import grouped, grouped_batch_norm, removal
from supernet.spaces import get_space
from supernet.spaces.space import NetConfig

SPACE = get_space("nb201")


def tiny_supernet(channels_last: bool = False):
    torch.manual_seed(0)
    st = SPACE.new_state()
    net = SPACE.build_supernet(st, NetConfig(channels=4, cells=1, num_classes=10))
    if channels_last:
        net = net.to(memory_format=torch.channels_last)
    return st, net


@pytest.mark.parametrize("scorer", ["zc-pt", "disc-zc"])
@pytest.mark.parametrize("bn_mode", ["batch", "eval"])
@pytest.mark.parametrize("channels_last", [False, True])
def test_grouped_scores_equal_sequential(scorer, bn_mode, channels_last):
    st, net = tiny_supernet(channels_last)
    x = torch.randn(8, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    y = torch.zeros(8, dtype=torch.long)
    st.remove("3<-0", "avg_pool_3x3")  # an edge with fewer ops, mid-search
    st.decide("2<-1", "nor_conv_1x1")
    out = {}
    for batched in (False, True):
        sc = SCORERS.get(scorer)(ScoringContext(SPACE, net, st, get_proxy("nwot", bn_mode=bn_mode),
                                                batched=batched))
        with sc.session():
            out[batched] = {e: sc.score_edge(e, (x, y)) for e in ("1<-0", "3<-0")}
        assert sc.evaluations == 5 + 4
    for e in out[False]:
        assert out[False][e].keys() == out[True][e].keys()
        for o in out[False][e]:
            assert out[True][e][o] == pytest.approx(out[False][e][o], rel=1e-9, abs=1e-9)
    assert st.grouping is None


def test_grouped_batch_norm_is_per_group_batch_norm():
    bn = nn.BatchNorm2d(3)
    with torch.no_grad():
        bn.weight.uniform_(0.5, 2)
        bn.bias.uniform_(-1, 1)
    x = torch.randn(3 * 4, 3, 5, 5)
    ref = torch.cat([F.batch_norm(g, None, None, bn.weight, bn.bias, training=True, eps=bn.eps)
                     for g in x.split(4)])
    buffers = {k: v.clone() for k, v in bn.state_dict().items()}
    with grouped_batch_norm(bn, 3):
        got = bn(x)
    assert torch.allclose(got, ref, atol=1e-5)
    assert "forward" not in bn.__dict__
    assert all(torch.equal(buffers[k], v) for k, v in bn.state_dict().items())


def test_grouped_variants_are_checked_and_do_not_nest():
    st, _ = tiny_supernet()
    st.remove("1<-0", "none")
    with pytest.raises(ArchStateError):
        with grouped(st, [{"1<-0": ("none",)}]):
            pass
    with grouped(st, [{"1<-0": ("skip_connect",)}]):
        with pytest.raises(ArchStateError):
            with grouped(st, [{}]):
                pass
    assert st.grouping is None


def test_a_proxy_without_grouped_scoring_refuses_score_groups_and_scorers_fall_back():
    st, net = tiny_supernet()
    x, y = torch.randn(4, 3, 16, 16), torch.zeros(4, dtype=torch.long)
    proxy = get_proxy("synflow")
    assert not proxy.supports_groups and get_proxy("nwot").supports_groups
    with proxy.session(net) as ev, grouped(st, [{}]) as g:
        with pytest.raises(NotImplementedError, match="proxy 'synflow' cannot score grouped variants"):
            ev.score_groups(x, y, g)
    sc = SCORERS.get("zc-pt")(ScoringContext(SPACE, net, st, proxy, batched=True))
    assert not sc.batched()  # one forward per perturbation instead
    with sc.session():
        sc.score_edge("1<-0", (x, y))
    assert sc.evaluations == 5


def test_a_single_group_scores_like_one_forward():
    st, net = tiny_supernet()
    x, y = torch.randn(4, 3, 16, 16, generator=torch.Generator().manual_seed(2)), torch.zeros(4, dtype=torch.long)
    with get_proxy("nwot").session(net) as ev:
        with st.perturb("2<-0", "nor_conv_3x3"):
            ref = ev(x, y)
        with grouped(st, [removal(st, "2<-0", "nor_conv_3x3")]) as g:
            assert ev.score_groups(x, y, g) == [pytest.approx(ref, rel=1e-9)]


def test_scoring_context_has_typed_settings_not_options():
    st, net = tiny_supernet()
    with pytest.raises(TypeError):
        ScoringContext(SPACE, net, st, None, {"batched": True})  # type: ignore[misc]
    ctx = ScoringContext(SPACE, net, st, None, batched=True)
    assert ctx.batched and ctx.trained is None


@pytest.mark.parametrize("space", ["nb201", "nb-macro", "darts", "mobilenet"])
def test_grouped_scoring_is_the_default_only_on_cuda_and_not_for_mobilenet(space):
    # H200 proposal iterations (docs/performance.md): grouped 1.8x faster on NB201 b256 and 2.7x on DARTS, 5x slower on
    # MobileNet; on the CPU 1.07x slower at batch 64
    from search.factory import ScoringSettings, build_scoring, default_batched
    sp = get_space(space)
    assert default_batched(sp, torch.device("cpu")) is False
    assert default_batched(sp, torch.device("cuda")) is (space != "mobilenet")
    if space == "nb201":  # the setting wins over the default; unset means the default
        for given, expected in ((None, False), (True, True), (False, False)):
            settings = ScoringSettings(scorer="zc-pt", proxy="nwot", channels=4, cells=1, batched=given)
            _, _, scorer, _ = build_scoring(settings, sp, torch.device("cpu"), num_classes=10)
            assert scorer.ctx.batched is expected
