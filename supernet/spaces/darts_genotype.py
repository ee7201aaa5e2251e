"""DARTS genotypes: the cell layout, the `Genotype(normal=[...], ...)` text format (read without eval), JSON.

A cell has 2 input nodes (0 = output of cell k-2, 1 = output of cell k-1) and `steps` intermediate
nodes 2..steps+1; node i takes 2 of the nodes j < i, each through one op. A genotype lists, per cell
type, 2 `(op, j)` pairs per intermediate node in node order, plus the nodes concatenated as output.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any, Iterator, Mapping

from .space import GenotypeError
from .darts_ops import KNOWN_OPS

CELL_TYPES = ("normal", "reduce")
STEPS = 4                      # intermediate nodes per cell
DEFAULT_CONCAT = (2, 3, 4, 5)
_MAX_TEXT = 20_000             # a genotype text is a few hundred characters; refuse anything huge


def node_inputs(steps: int = STEPS) -> Iterator[tuple[int, int]]:
    """(i, j) for every cell edge j -> i, node by node (input towards output): 2<-0, 2<-1, 3<-0, ..."""
    for i in range(2, steps + 2):
        for j in range(i):
            yield i, j


def edge_id(cell_type: str, i: int, j: int) -> str:
    """Stable edge id, e.g. `normal:3<-1`."""
    return f"{cell_type}:{i}<-{j}"


@dataclass
class DartsGenotype:
    """The DARTS `Genotype` namedtuple as data: per cell type 2 (op, input) pairs per node + concat."""

    normal: list[tuple[str, int]]
    normal_concat: list[int]
    reduce: list[tuple[str, int]]
    reduce_concat: list[int]

    def __post_init__(self) -> None:
        self.normal = _pairs(self.normal, "normal")
        self.reduce = _pairs(self.reduce, "reduce")
        self.normal_concat = _concat(self.normal_concat, "normal_concat")
        self.reduce_concat = _concat(self.reduce_concat, "reduce_concat")
        for ct in CELL_TYPES:
            _check_pairs(getattr(self, ct), ct)
        if len(self.normal) != len(self.reduce):
            raise GenotypeError(f"normal and reduce cells must have the same number of nodes, got "
                                f"{len(self.normal) // 2} and {len(self.reduce) // 2}")
        for ct in CELL_TYPES:
            _check_concat(getattr(self, f"{ct}_concat"), len(self.normal) // 2, ct)

    @property
    def steps(self) -> int:
        """Intermediate nodes per cell."""
        return len(self.normal) // 2

    def __str__(self) -> str:
        return format_darts_genotype(self)


def _pairs(value: Any, what: str) -> list[tuple[str, int]]:
    if not isinstance(value, (list, tuple)):
        raise GenotypeError(f"DARTS genotype field {what} must be a list of (op, input) pairs, got {value!r}")
    out = []
    for p in value:
        if not (isinstance(p, (list, tuple)) and len(p) == 2 and isinstance(p[0], str)
                and isinstance(p[1], int) and not isinstance(p[1], bool)):
            raise GenotypeError(f"DARTS genotype field {what}: {p!r} is not an (op name, input index) pair")
        out.append((p[0], p[1]))
    return out


def _concat(value: Any, what: str) -> list[int]:
    if isinstance(value, range):
        value = list(value)
    if not (isinstance(value, (list, tuple)) and all(isinstance(v, int) and not isinstance(v, bool) for v in value)):
        raise GenotypeError(f"DARTS genotype field {what} must be a list of node indices, got {value!r}")
    return list(value)


def _check_pairs(pairs: list[tuple[str, int]], ct: str) -> None:
    if not pairs or len(pairs) % 2:
        raise GenotypeError(f"DARTS genotype {ct} cell needs 2 (op, input) pairs per node, got {len(pairs)} pairs")
    for k, (op, j) in enumerate(pairs):
        node = 2 + k // 2
        if op not in KNOWN_OPS:
            raise GenotypeError(f"unknown DARTS op {op!r} in the {ct} cell; ops are {', '.join(KNOWN_OPS)}")
        if not 0 <= j < node:
            raise GenotypeError(f"{ct} cell node {node} cannot take input {j} (inputs are 0..{node - 1})")


def _check_concat(concat: list[int], steps: int, ct: str) -> None:
    if not concat or len(set(concat)) != len(concat) or not all(0 <= c < steps + 2 for c in concat):
        raise GenotypeError(f"{ct}_concat {concat} must list distinct nodes among 0..{steps + 1}")


def format_darts_genotype(g: DartsGenotype) -> str:
    """`Genotype(normal=[('sep_conv_3x3', 0), ...], normal_concat=[2, 3, 4, 5], reduce=[...], reduce_concat=[...])`."""
    def pairs(ps: list[tuple[str, int]]) -> str:
        return "[" + ", ".join(f"('{op}', {j})" for op, j in ps) + "]"

    return (f"Genotype(normal={pairs(g.normal)}, normal_concat={list(g.normal_concat)}, "
            f"reduce={pairs(g.reduce)}, reduce_concat={list(g.reduce_concat)})")


_FIELDS = ("normal", "normal_concat", "reduce", "reduce_concat")


def _literal(node: ast.AST, text: str) -> Any:
    """Value of a literal node: strings, ints, lists/tuples of them, or `range(a, b)`; nothing else."""
    if isinstance(node, ast.Constant) and isinstance(node.value, (str, int)) and not isinstance(node.value, bool):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant) \
            and type(node.operand.value) is int:
        return -node.operand.value  # a negative index: reported by the range check, not as syntax
    if isinstance(node, (ast.List, ast.Tuple)):
        return [_literal(e, text) for e in node.elts]
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "range"
            and not node.keywords and 1 <= len(node.args) <= 2):
        bounds = [_literal(a, text) for a in node.args]
        if all(isinstance(b, int) for b in bounds):
            return range(*bounds)
    raise GenotypeError(f"unexpected {ast.unparse(node)!r} in DARTS genotype {text!r}")


def parse_darts_genotype(text: str) -> DartsGenotype:
    """Read `Genotype(normal=[...], normal_concat=[...], reduce=[...], reduce_concat=[...])` (keywords or
    positional, concat as a list or `range(2, 6)`); the text is parsed as syntax, never evaluated."""
    if not isinstance(text, str):
        raise GenotypeError(f"expected a DARTS genotype string, got {type(text).__name__}")
    if len(text) > _MAX_TEXT:
        raise GenotypeError(f"DARTS genotype text is {len(text)} characters long; that is not a genotype")
    s = text.strip()
    try:
        tree = ast.parse(s, mode="eval").body
    except SyntaxError:
        raise GenotypeError(f"not a DARTS genotype (expected Genotype(normal=[...], ...)): {text!r}") from None
    if not (isinstance(tree, ast.Call) and isinstance(tree.func, ast.Name) and tree.func.id == "Genotype"):
        raise GenotypeError(f"a DARTS genotype must be written Genotype(normal=[...], normal_concat=[...], "
                            f"reduce=[...], reduce_concat=[...]), got {text!r}")
    if len(tree.args) > len(_FIELDS):
        raise GenotypeError(f"Genotype(...) takes at most {len(_FIELDS)} fields, got {len(tree.args)} in {text!r}")
    values: dict[str, Any] = {name: _literal(a, text) for name, a in zip(_FIELDS, tree.args)}
    for kw in tree.keywords:
        if kw.arg not in _FIELDS:
            raise GenotypeError(f"unknown Genotype field {kw.arg!r}; fields are {', '.join(_FIELDS)}")
        if kw.arg in values:
            raise GenotypeError(f"Genotype field {kw.arg!r} given twice in {text!r}")
        values[kw.arg] = _literal(kw.value, text)
    missing = [f for f in _FIELDS if f not in values]
    if missing:
        raise GenotypeError(f"DARTS genotype lacks {', '.join(missing)}: {text!r}")
    return _build(values)


def _build(values: Mapping[str, Any]) -> DartsGenotype:
    return DartsGenotype(**{f: values[f] for f in _FIELDS})


def darts_genotype_to_json(g: DartsGenotype) -> dict[str, Any]:
    """{"normal": [[op, j], ...], "normal_concat": [...], "reduce": ..., "reduce_concat": ...}."""
    return {"normal": [[op, j] for op, j in g.normal], "normal_concat": list(g.normal_concat),
            "reduce": [[op, j] for op, j in g.reduce], "reduce_concat": list(g.reduce_concat)}


def darts_genotype_from_json(data: Any) -> DartsGenotype:
    """Inverse of `darts_genotype_to_json`; the text format is accepted too."""
    if isinstance(data, str):
        return parse_darts_genotype(data)
    if not isinstance(data, Mapping):
        raise GenotypeError(f"expected a DARTS genotype object or string, got {type(data).__name__}")
    unknown = sorted(set(data) - set(_FIELDS))
    missing = [f for f in _FIELDS if f not in data]
    if unknown or missing:
        raise GenotypeError(f"DARTS genotype JSON needs exactly the keys {', '.join(_FIELDS)}"
                            f"{'; unknown: ' + ', '.join(map(str, unknown)) if unknown else ''}"
                            f"{'; missing: ' + ', '.join(missing) if missing else ''}")
    return _build(data)


# The DARTS paper's published cells (Liu et al. 2019; first- and second-order search on CIFAR-10).
DARTS_V1 = DartsGenotype(
    normal=[("sep_conv_3x3", 1), ("sep_conv_3x3", 0), ("skip_connect", 0), ("sep_conv_3x3", 1),
            ("skip_connect", 0), ("sep_conv_3x3", 1), ("sep_conv_3x3", 0), ("skip_connect", 2)],
    normal_concat=[2, 3, 4, 5],
    reduce=[("max_pool_3x3", 0), ("max_pool_3x3", 1), ("skip_connect", 2), ("max_pool_3x3", 0),
            ("max_pool_3x3", 0), ("skip_connect", 2), ("skip_connect", 2), ("avg_pool_3x3", 0)],
    reduce_concat=[2, 3, 4, 5],
)
DARTS_V2 = DartsGenotype(
    normal=[("sep_conv_3x3", 0), ("sep_conv_3x3", 1), ("sep_conv_3x3", 0), ("sep_conv_3x3", 1),
            ("sep_conv_3x3", 1), ("skip_connect", 0), ("skip_connect", 0), ("dil_conv_3x3", 2)],
    normal_concat=[2, 3, 4, 5],
    reduce=[("max_pool_3x3", 0), ("max_pool_3x3", 1), ("skip_connect", 2), ("max_pool_3x3", 1),
            ("max_pool_3x3", 0), ("skip_connect", 2), ("skip_connect", 2), ("max_pool_3x3", 1)],
    reduce_concat=[2, 3, 4, 5],
)
