"""`opscore report RUN_DIR... --out REPORT_DIR`: mean +- std of finished search runs, grouped by their settings."""
from __future__ import annotations

import argparse
import json

from ..analysis.report import write_report


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="aggregate search run directories into a table (CSV, Markdown, PNG)",
                       description="Group finished search runs by the settings that differ between them (except "
                                   "seed and out) and write mean ± std (ddof 1) of every benchmark accuracy, seconds "
                                   "and unique candidates to REPORT_DIR/report.csv, report.md and report.png.")
    p.add_argument("runs", nargs="+", metavar="RUN_DIR", help="finished search run directories")
    p.add_argument("--out", required=True, metavar="REPORT_DIR", help="folder for the report files")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    summary = write_report(args.runs, args.out)
    print(json.dumps({"runs": summary["runs"], "groups": len(summary["groups"]), "differing": summary["differing"],
                      "report_dir": args.out}))
    return 0
