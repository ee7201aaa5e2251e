"""Zero-cost proxies, one module each, registered by name in PROXIES."""
from .proxy import BN_MODES, PROXIES, Proxy, preserved
from . import nwot  # noqa: F401  (registers itself)
from . import grad_norm, snip, grasp, fisher, synflow, jacob_cov, zen, tenas, params, flops  # noqa: F401,E401


def get_proxy(name: str, **options) -> Proxy:
    """The proxy registered as `name` built with `options` (PROXIES.create; kept for its many callers)."""
    return PROXIES.create(name, **options)


__all__ = ["BN_MODES", "PROXIES", "Proxy", "preserved", "get_proxy"]
