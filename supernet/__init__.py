"""Weight-sharing supernets: arch state, mixed ops, reversible edits, spaces and genotypes."""
from .arch_state import ArchState, ArchStateError, EdgeState
from .mixed_op import MixedOp
from .spaces import SPACES, get_space
from .spaces.space import GenotypeError, NetConfig, SearchSpace

__all__ = ["ArchState", "ArchStateError", "EdgeState", "MixedOp", "SPACES", "get_space", "GenotypeError",
           "NetConfig", "SearchSpace"]
