"""DARTS genotypes: the published text format, safe parsing, JSON round trips, published cells."""
from __future__ import annotations

import json
import random

import pytest

from supernet.spaces import get_space
from supernet.spaces.space import GenotypeError
from supernet.spaces.darts import (DARTS_V1, DARTS_V2, DartsGenotype, format_darts_genotype,
                                   parse_darts_genotype)
from supernet.spaces.darts_ops import DARTS_OPS

# DARTS_V2 exactly as printed in the DARTS repository (cnn/genotypes.py)
V2_TEXT = ("Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1), "
           "('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), ('dil_conv_3x3', 2)], "
           "normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), "
           "('max_pool_3x3', 1), ('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), "
           "('max_pool_3x3', 1)], reduce_concat=[2, 3, 4, 5])")


def random_genotype(rng: random.Random, ops=DARTS_OPS) -> DartsGenotype:
    def cell():
        pairs = []
        for node in range(2, 6):
            for j in rng.sample(range(node), 2):
                pairs.append((rng.choice(ops), j))
        return pairs
    return DartsGenotype(cell(), [2, 3, 4, 5], cell(), [2, 3, 4, 5])


def test_published_text_is_read_and_written_identically():
    g = parse_darts_genotype(V2_TEXT)
    assert g == DARTS_V2
    assert format_darts_genotype(DARTS_V2) == V2_TEXT
    assert g.normal[7] == ("dil_conv_3x3", 2) and g.reduce_concat == [2, 3, 4, 5]
    assert isinstance(g.normal, list) and all(isinstance(p, tuple) for p in g.normal)


@pytest.mark.parametrize("seed", range(20))
def test_random_genotypes_round_trip_through_text_and_json(seed):
    space = get_space("darts")
    g = random_genotype(random.Random(seed), DARTS_OPS + ("noise",))
    assert parse_darts_genotype(format_darts_genotype(g)) == g
    assert space.parse_genotype(space.format_genotype(g)) == g
    data = json.loads(json.dumps(space.genotype_to_json(g)))
    assert space.genotype_from_json(data) == g
    assert data["normal"][0] == list(g.normal[0])


def test_variants_of_the_text_format_are_accepted():
    base = parse_darts_genotype(format_darts_genotype(DARTS_V1))
    ranged = format_darts_genotype(DARTS_V1).replace("[2, 3, 4, 5]", "range(2, 6)")
    assert parse_darts_genotype(ranged) == base
    positional = "Genotype(%r, [2, 3, 4, 5], %r, [2, 3, 4, 5])" % (DARTS_V1.normal, DARTS_V1.reduce)
    assert parse_darts_genotype(positional) == base
    spaced = "  Genotype(\n normal = %r ,\n normal_concat=[2,3,4,5], reduce=%r, reduce_concat=[2,3,4,5],)\n" % (
        DARTS_V1.normal, DARTS_V1.reduce)
    assert parse_darts_genotype(spaced) == base
    assert get_space("darts").genotype_from_json(format_darts_genotype(DARTS_V1)) == base


def _with(**fields) -> str:
    f = {"normal": DARTS_V2.normal, "normal_concat": [2, 3, 4, 5], "reduce": DARTS_V2.reduce,
         "reduce_concat": [2, 3, 4, 5], **fields}
    return "Genotype(" + ", ".join(f"{k}={v!r}" for k, v in f.items()) + ")"


@pytest.mark.parametrize("text, needle", [
    ("", "not a DARTS genotype"),
    ("Genotype(normal=[('sep_conv_3x3', 0)", "not a DARTS genotype"),
    ("Genotyp(normal=[])", "must be written Genotype"),
    ("__import__('os').system('true')", "must be written Genotype"),
    (_with(normal=[(("__import__('os')"), 0)] * 8), "unknown DARTS op"),
    ("Genotype(normal=[(__import__('os').getcwd(), 0)], normal_concat=[2], reduce=[], reduce_concat=[2])",
     "unexpected"),
    (_with(normal=DARTS_V2.normal[:7]), "2 (op, input) pairs per node"),
    (_with(normal=[("sep_conv_7x7", 0)] + DARTS_V2.normal[1:]), "unknown DARTS op 'sep_conv_7x7'"),
    (_with(normal=DARTS_V2.normal[:2] + [("sep_conv_3x3", 3)] + DARTS_V2.normal[3:]), "node 3 cannot take input 3"),
    (_with(normal=[("sep_conv_3x3", -1)] + DARTS_V2.normal[1:]), "cannot take input -1"),
    (_with(normal_concat=[2, 2, 4, 5]), "distinct nodes"),
    (_with(reduce_concat=[2, 3, 4, 9]), "distinct nodes"),
    (_with(reduce=DARTS_V2.reduce[:6]), "same number of nodes"),
    (_with(normal=[("sep_conv_3x3", True)] * 8), "unexpected 'True'"),
    (_with(extra=[1]), "unknown Genotype field 'extra'"),
    ("Genotype(normal=[('sep_conv_3x3', 0)]*8, normal_concat=[2], reduce=[], reduce_concat=[2])", "unexpected"),
    ("Genotype(normal=[], normal_concat=[2,3,4,5], reduce=[])", "lacks reduce_concat"),
    ("Genotype(" + "[" * 15000 + "]" * 15000 + ")", "characters long"),
])
def test_malformed_text_is_rejected_with_a_clear_error(text, needle):
    with pytest.raises(GenotypeError, match=None) as exc:
        parse_darts_genotype(text)
    assert needle in str(exc.value), str(exc.value)


@pytest.mark.parametrize("data, needle", [
    (42, "expected a DARTS genotype"),
    ({"normal": DARTS_V2.normal}, "missing: normal_concat, reduce, reduce_concat"),
    ({**get_space("darts").genotype_to_json(DARTS_V2), "x": 1}, "unknown: x"),
    ({**get_space("darts").genotype_to_json(DARTS_V2), "normal": [["sep_conv_3x3"]] * 8}, "pair"),
])
def test_malformed_json_is_rejected(data, needle):
    with pytest.raises(GenotypeError) as exc:
        get_space("darts").genotype_from_json(data)
    assert needle in str(exc.value)


V1_TEXT = ("Genotype(normal=[('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('skip_connect', 0), ('sep_conv_3x3', 1), "
           "('skip_connect', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('skip_connect', 2)], "
           "normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), "
           "('max_pool_3x3', 0), ('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), "
           "('avg_pool_3x3', 0)], reduce_concat=[2, 3, 4, 5])")


def test_darts_v1_is_the_published_first_order_cell():
    assert format_darts_genotype(DARTS_V1) == V1_TEXT
    assert parse_darts_genotype(V1_TEXT) == DARTS_V1 != DARTS_V2
