"""Search spaces, one module each, registered by name in SPACES."""
from __future__ import annotations

from ..registry import Registry
from .space import SearchSpace

SPACES: Registry[type[SearchSpace]] = Registry("space")

from . import nb201  # noqa: E402,F401  (registers itself)
from . import nb_macro  # noqa: E402,F401  (registers itself)
from . import mobilenet  # noqa: E402,F401  (registers itself)
from . import darts, darts_subspaces  # noqa: E402,F401  (register darts, darts-s1..s4)


def get_space(name: str, **options: object) -> SearchSpace:
    """The space registered as `name` built with `options` (SPACES.create; kept for its many callers)."""
    return SPACES.create(name, **options)
