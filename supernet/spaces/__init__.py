"""Search spaces, one module each, registered by name in SPACES."""
from __future__ import annotations

from ..registry import Registry, UnknownNameError

SPACES: Registry = Registry("space")

from . import nb201  # noqa: E402,F401  (registers itself)
from . import nb_macro  # noqa: E402,F401  (registers itself)
from . import darts, darts_subspaces  # noqa: E402,F401  (register darts, darts-s1..s4)


def get_space(name: str, **options):
    """An instance of the space registered as `name`, with its `options` (declared in `options`)."""
    cls = SPACES.get(name)
    allowed = tuple(cls.options)
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise UnknownNameError(f"space {name!r} has no option {', '.join(unknown)}; "
                               f"its options: {', '.join(allowed) or 'none'}")
    return cls(**options)
