"""The `opscore` command: one module per subcommand, listed in SUBCOMMANDS."""
from __future__ import annotations

import argparse
import logging
import sys
from importlib import import_module
from typing import Sequence

from runtime.allocator import retain_freed_memory

from .errors import USER_ERROR, USER_ERRORS

# each module defines `add_parser(subparsers)`; the parser's `func(args) -> int` runs it
SUBCOMMANDS = ("search.cli.search_cmd", "search.cli.list_cmd", "search.cli.train_cmd", "search.cli.train_supernet_cmd",
               "search.cli.proxies_cmd", "search.cli.analyze_cmd", "search.cli.fear_threshold_cmd",
               "search.cli.lookup_cmd", "search.cli.report_cmd", "search.cli.describe_cmd")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="opscore", description="Differentiable NAS with pluggable operation scoring.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("--debug", action="store_true",
                        help="show the full traceback of user errors too (bugs always show one)")
    parser.add_argument("--allocator", choices=("retain", "system"), default="retain",
                        help="retain: keep freed activation memory for reuse (glibc; a forward is up to 1.8x faster); "
                             "system: the C library's defaults (default: %(default)s)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in SUBCOMMANDS:
        import_module(name).add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; user mistakes give one line on stderr and exit status 2 (with --debug, their traceback), while
    an unexpected exception (a bug) always shows its traceback; a finished run whose benchmark lookup failed exits 3
    (search.cli.errors.LOOKUP_FAILED), one whose candidates all scored -inf or NaN 4 (NO_SIGNAL)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    if args.allocator == "retain":
        retain_freed_memory()
    try:
        return int(args.func(args) or 0)
    except USER_ERRORS as e:
        if args.debug:
            raise
        print(f"opscore {args.command}: error: {e}", file=sys.stderr)
        return USER_ERROR
    except KeyboardInterrupt:
        print("opscore: interrupted", file=sys.stderr)
        return 130
