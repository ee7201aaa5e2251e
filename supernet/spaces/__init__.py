"""Search spaces, one module each, registered by name in SPACES."""
from __future__ import annotations

from ..registry import Registry

SPACES: Registry = Registry("space")

from . import nb201  # noqa: E402,F401  (registers itself)


def get_space(name: str):
    """An instance of the space registered as `name`."""
    return SPACES.get(name)()
