"""Search strategies (the top-level algorithm), one module each, registered by name in STRATEGIES."""
from .strategy import STRATEGIES, SearchContext, Strategy
from . import zcpt  # noqa: F401,E402  (registers itself)
from . import evolution, naswot, random_search, tenas_pruning  # noqa: F401,E402  (register themselves)

__all__ = ["STRATEGIES", "SearchContext", "Strategy"]
