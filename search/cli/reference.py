"""The command reference (docs/commands.md), generated from the parser, whose flags come from the settings classes
and the plugins' own settings: `python -m search.cli.reference --write` rewrites it, and a test fails when the
file is stale."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import build_parser

REFERENCE = Path(__file__).resolve().parents[2] / "docs" / "commands.md"
HEADER = """# Command reference

Generated from the settings classes by `python -m search.cli.reference --write`; do not edit by hand (a test
fails when this file is stale). Every flag of `opscore search` is also a YAML key of `--config` (dashes or
underscores). A plugin's options are grouped under the plugin: giving one for a plugin the run does not use is an
error. See the [user guide](user-guide.md) for what the commands do.
"""


def _cell(text: str) -> str:
    """Text fit for one Markdown table cell."""
    return " ".join(text.split()).replace("|", "\\|")


def _flags(action: argparse.Action) -> str:
    """The flags of an action as code, with the metavar of a flag that takes a value."""
    if not action.option_strings:
        return f"`{action.metavar or action.dest}`"
    takes_value = action.nargs != 0 and not isinstance(action, argparse.BooleanOptionalAction)
    meta = f" {action.metavar or action.dest.upper()}" if takes_value else ""
    if action.choices is not None and takes_value:
        meta = " {" + ",".join(map(str, action.choices)) + "}"
    return ", ".join(f"`{s}{meta if s.startswith('--') else ''}`" for s in action.option_strings)


def _table(parser: argparse.ArgumentParser, actions: list[argparse.Action]) -> list[str]:
    """A Markdown table of `actions` (flag, what it does)."""
    formatter = parser._get_formatter()
    rows = ["| flag | what it sets |", "|---|---|"]
    for a in actions:
        if a.help == argparse.SUPPRESS or isinstance(a, (argparse._HelpAction, argparse._SubParsersAction)):
            continue
        rows.append(f"| {_flags(a)} | {_cell(formatter._expand_help(a) if a.help else '')} |")
    return rows if len(rows) > 2 else []


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    found = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(found[0].choices) if found else {}


def _command(name: str, parser: argparse.ArgumentParser, level: int) -> list[str]:
    """The section of one command: its description and a table per argument group."""
    lines = [f"{'#' * level} `{name}`", ""]
    if parser.description:
        lines += [_cell(parser.description), ""]
    for group in parser._action_groups:
        table = _table(parser, group._group_actions)
        if not table:
            continue
        title = group.title or "options"
        lines += [f"**{title[0].upper() + title[1:]}**", "", *table, ""]
    if parser.epilog:
        lines += [_cell(parser.epilog), ""]
    for sub_name, sub in _subparsers(parser).items():
        lines += _command(f"{name} {sub_name}", sub, level + 1)
    return lines


def command_reference() -> str:
    """docs/commands.md's text: the global flags, then every subcommand."""
    parser = build_parser()
    lines = [HEADER, "## `opscore`", "", *_table(parser, parser._actions), ""]
    for name, sub in _subparsers(parser).items():
        lines += _command(f"opscore {name}", sub, 2)
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    """Print the reference, or `--write` it to docs/commands.md."""
    argv = sys.argv[1:] if argv is None else argv
    text = command_reference()
    if argv == ["--write"]:
        REFERENCE.write_text(text, encoding="utf-8")
        return 0
    if argv:
        print("usage: python -m search.cli.reference [--write]", file=sys.stderr)
        return 2
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
