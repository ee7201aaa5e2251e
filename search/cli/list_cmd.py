"""`opscore list`: what is registered (strategies, validators, spaces, scorers, proxies, orders, mixing rules,
benchmark sources, supernet-training methods, TSE estimators) and the retraining recipes found."""
from __future__ import annotations

import argparse

from scoring.proxies import PROXIES
from scoring.scorers import SCORERS
from scoring.tse import TSE_ESTIMATORS
from train_final.recipe import recipe_names
from supernet.mixing import MIXING
from supernet.spaces import SPACES

from ..benchmarks import BENCHMARKS
from ..orders import ORDERS
from ..strategies import STRATEGIES
from ..validators import VALIDATORS
from ..supernet_train.architects import ARCHITECTS


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("list", help="list registered spaces, scorers, proxies, orders, mixing rules, training "
                                    "methods, TSE estimators and retraining recipes")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    for title, reg in (("strategies", STRATEGIES), ("validators", VALIDATORS), ("spaces", SPACES),
                       ("scorers", SCORERS), ("proxies", PROXIES), ("orders", ORDERS), ("mixing", MIXING),
                       ("benchmark sources", BENCHMARKS), ("supernet training methods", ARCHITECTS),
                       ("TSE estimators", TSE_ESTIMATORS)):
        print(f"{title}: {', '.join(reg.names())}")
    print(f"retraining recipes: {', '.join(recipe_names()) or 'none found (set OPSCORE_CONFIGS to configs/)'}")
    return 0
