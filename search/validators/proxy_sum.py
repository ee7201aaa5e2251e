"""`proxy`: the zero-cost proxy of the search summed over V minibatches (Xiang et al. 2023, Section 4.1)."""
from __future__ import annotations

from .validator import VALIDATORS, ValidationContext, Validator, Verdict


@VALIDATORS.register("proxy")
class ProxySum(Validator):
    """Sum of the proxy over the V validation minibatches, on the freshly initialised network."""

    needs_proxy = True

    def score(self, ctx: ValidationContext, genotype: str) -> Verdict:
        if ctx.proxy is None:
            raise ValueError("the proxy validator needs the search's proxy")
        net = ctx.network(genotype)
        with ctx.proxy.session(net) as ev:
            total = float(sum(ev(x, y) for x, y in ctx.batches))
        return Verdict(total)
