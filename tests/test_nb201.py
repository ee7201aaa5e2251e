import itertools

import pytest
import torch

from supernet.spaces import get_space
from supernet.spaces.space import GenotypeError, NetConfig
from supernet.spaces.nb201 import NB201_OPS, NB201Genotype, parse_arch_str

SPACE = get_space("nb201")


def test_every_arch_string_round_trips():
    for ops in itertools.product(NB201_OPS, repeat=6):
        g = NB201Genotype(ops)
        assert parse_arch_str(g.arch_str()) == g
    assert len(NB201_OPS) ** 6 == 15625


def test_arch_string_layout():
    g = NB201Genotype(("a1", "b2", "c3", "d4", "e5", "f6"))
    assert g.arch_str() == "|a1~0|+|b2~0|c3~1|+|d4~0|e5~1|f6~2|"


@pytest.mark.parametrize("bad", [
    "",
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|",                       # 2 nodes
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|+|skip_connect~0|skip_connect~1|skip_connect~2|",  # node 2 has 1 input
    "|conv_7x7~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|skip_connect~1|skip_connect~2|",  # unknown op
    "|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|skip_connect~1|skip_connect~2|",  # wrong input
    "nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|skip_connect~1|skip_connect~2|",  # missing |
    "|nor_conv_3x3|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|skip_connect~1|skip_connect~2|",  # no ~
])
def test_malformed_strings_rejected(bad):
    with pytest.raises(GenotypeError):
        parse_arch_str(bad)


def n_params(net: torch.nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def test_standalone_param_counts_match_nb201():
    """NB201's own metadata: 0.073306M to 1.531546M parameters on CIFAR-10 (C=16, N=5)."""
    cfg = NetConfig(channels=16, cells=5, num_classes=10)
    biggest = SPACE.build_network(NB201Genotype(("nor_conv_3x3",) * 6), cfg)
    smallest = SPACE.build_network(NB201Genotype(("none",) * 6), cfg)
    assert n_params(biggest) == 1_531_546
    assert n_params(smallest) == 73_306


def test_supernet_and_network_shapes_and_edit_effect():
    torch.manual_seed(0)
    st = SPACE.new_state()
    net = SPACE.build_supernet(st, NetConfig(channels=4, cells=1, num_classes=3)).eval()
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        y = net(x)
        with st.perturb("1<-0", "nor_conv_3x3"):
            y2 = net(x)
    assert y.shape == (2, 3) and not torch.allclose(y, y2)
    with torch.no_grad():
        assert torch.equal(net(x), y)
    sa = SPACE.build_network(parse_arch_str("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"),
                             NetConfig(channels=4, cells=1, num_classes=3))
    assert sa(x).shape == (2, 3)


def test_genotype_from_state():
    st = SPACE.new_state()
    for e, op in zip(st.edge_ids(), ("skip_connect", "nor_conv_1x1", "none", "avg_pool_3x3", "nor_conv_3x3", "none")):
        st.decide(e, op)
    assert SPACE.format_genotype(SPACE.genotype_from_state(st)) == \
        "|skip_connect~0|+|nor_conv_1x1~0|none~1|+|avg_pool_3x3~0|nor_conv_3x3~1|none~2|"
