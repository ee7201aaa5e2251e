"""`opscore list`: what is registered (spaces, scorers, proxies, orders, mixing rules)."""
from __future__ import annotations

import argparse

from scoring.proxies import PROXIES
from scoring.scorers import SCORERS
from supernet.mixing import MIXING
from supernet.spaces import SPACES

from ..orders import ORDERS


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("list", help="list registered spaces, scorers, proxies, orders and mixing rules")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    for title, reg in (("spaces", SPACES), ("scorers", SCORERS), ("proxies", PROXIES),
                       ("orders", ORDERS), ("mixing", MIXING)):
        print(f"{title}: {', '.join(reg.names())}")
    return 0
