"""Search strategies (the top-level algorithm), one module each, registered by name in STRATEGIES."""
from .base import STRATEGIES, SearchContext, Strategy
from . import zcpt  # noqa: F401,E402  (registers itself)

__all__ = ["STRATEGIES", "SearchContext", "Strategy"]
