import pytest

from supernet.arch_state import ArchState, ArchStateError

CANDS = {"a": ("x", "y", "z"), "b": ("x", "y")}


def state() -> ArchState:
    return ArchState.from_candidates(CANDS)


def test_perturb_removes_and_restores():
    s = state()
    before = s.snapshot()
    with s.perturb("a", "y"):
        assert s.active("a") == ("x", "z")
        assert s.active("b") == ("x", "y")
    assert s.snapshot() == before


def test_discretize_keeps_one_and_restores_on_exception():
    s = state()
    before = s.snapshot()
    with pytest.raises(RuntimeError):
        with s.discretize("a", "z"):
            assert s.active("a") == ("z",)
            raise RuntimeError("boom")
    assert s.snapshot() == before


def test_nested_edits_restore_in_order():
    s = state()
    s.remove("a", "x")
    before = s.snapshot()
    with s.perturb("a", "y"), s.discretize("b", "y"), s.without_edge("a"):
        assert s.active("a") == () and s.active("b") == ("y",)
    assert s.snapshot() == before


def test_decide_and_restore_to_a0():
    s = state()
    a0 = s.snapshot()
    s.decide("b", "y")
    assert s.decided("b") == "y" and s.active("b") == ("y",) and s.undecided() == ["a"]
    s.restore(a0)
    assert s.snapshot() == a0 and s.undecided() == ["a", "b"]


@pytest.mark.parametrize("edit", ["perturb", "discretize"])
def test_edit_of_inactive_or_unknown_op_is_refused(edit):
    s = state()
    s.remove("a", "x")
    with pytest.raises(ArchStateError):
        with getattr(s, edit)("a", "x"):
            pass
    with pytest.raises(ArchStateError):
        with getattr(s, edit)("nope", "x"):
            pass


def test_remove_last_op_refused():
    s = state()
    s.remove("b", "x")
    with pytest.raises(ArchStateError):
        s.remove("b", "y")
