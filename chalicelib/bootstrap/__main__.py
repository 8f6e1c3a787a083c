"""`python -m chalicelib.bootstrap PATH [--app NAME] [--dry-run] [--json]`: sync bootstrap files.

Honours AWS_ENDPOINT_URL and the table settings (default: the dev stage's names, as `make run` creates them; or
`--stage`, which reads the stage's names from .chalice/config.json); exits 1 when the files do not validate, 2 when
a table is missing or the endpoint does not answer (one line each, naming the table and the endpoint).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from chalicelib.bootstrap.sync import Report

from chalicelib.bootstrap import SCOPE_PREFIX


def table(report: Report) -> str:
    rows = [("APPLICATION", "JOB", "ACTION", "DETAIL")]
    rows += [(s.application, "${" + s.variable + "}", s.action, s.detail) for s in report.variables]
    rows += [(s.application, s.job or "-", s.action, s.detail) for s in report.steps]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]
    mode = "dry run: nothing written" if report.dry_run else f"{report.writes} writes"
    return "\n".join([*lines, "", mode, *[f"WARNING: {w}" for w in report.warnings]])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chalicelib.bootstrap", description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path, help="the bootstrap folder (one sub-folder per application)")
    parser.add_argument("--app", help="sync only this application")
    parser.add_argument("--dry-run", action="store_true", help="print the plan, write nothing")
    parser.add_argument("--json", action="store_true", help="print the plan as JSON")
    parser.add_argument("--scope-prefix", default=SCOPE_PREFIX, help="scopedTo is PREFIX + application name")
    parser.add_argument("--stage", help="take table names from this Chalice stage (variables already set win)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s", stream=sys.stderr)
    if args.stage:
        from chalicelib.settings import get_settings
        from chalicelib.stage import apply_stage_environment

        apply_stage_environment(args.stage)
        get_settings.cache_clear()
    from chalicelib.bootstrap.sync import run  # after the environment is final: models bind table names
    from chalicelib.store import preflight

    missing = preflight.problems()
    if missing:
        print(*missing, sep="\n", file=sys.stderr)
        return 2
    report = run(args.path, args.app, args.dry_run, args.scope_prefix)
    if args.json:
        print(json.dumps(report.as_dict(), indent=2))
    elif report.errors:
        print("bootstrap files are not valid; nothing was written:", *report.errors, sep="\n  ", file=sys.stderr)
    else:
        print(table(report))
    return 1 if report.errors else 0


if __name__ == "__main__":
    sys.exit(main())
