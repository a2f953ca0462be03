"""``gypsum-flows recover``: clear stale project locks and the partial versions they guard (admins)."""

from __future__ import annotations

import argparse
import json

from ..constants import STALE_LOCK_AGE
from ._common import About, add_command

ABOUT = About(
    "clear stale project locks left by interrupted uploads (admins)",
    "Find projects whose ..LOCK is older than --older-than (by the server's clock), unlock them and "
    "remove the partial version each lock belongs to. Complete versions are never removed; younger "
    "locks are reported and left alone. The admin token comes from GYPSUM_TOKEN or the cached token.",
)

EXAMPLES = """examples:
  gypsum-flows recover --url http://127.0.0.1:8787 --dry-run          # list locks, change nothing
  GYPSUM_TOKEN=<admin token> gypsum-flows recover --url http://127.0.0.1:8787 --older-than 2h   # older than 2 h
  gypsum-flows recover --url http://127.0.0.1:8787 --project scrnaseq --older-than 30m --json
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``recover`` command."""
    parser = add_command(subparsers, "recover", ABOUT, run)
    parser.add_argument("--url", help="base URL of the gypsum server (default: GYPSUM_REST_URL or the public one)")
    parser.add_argument(
        "--older-than",
        default=STALE_LOCK_AGE,
        metavar="AGE",
        help="lock age threshold, e.g. 90s, 15m, 2h (default: %(default)s)",
    )
    parser.add_argument(
        "--project",
        action="append",
        dest="projects",
        metavar="NAME",
        help="only look at this project; repeatable (default: every project)",
    )
    parser.add_argument("--dry-run", action="store_true", help="only list what would be done")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")


def run(args: argparse.Namespace) -> int:
    """Run the recovery and print its report; exit 1 if any lock could not be handled."""
    from ..recover import parse_duration, recover

    report = recover(parse_duration(args.older_than), dry_run=args.dry_run, projects=args.projects, url=args.url)
    print(json.dumps(report.to_dict(), indent=2, default=str) if args.json else report.summary())
    return 1 if report.failed else 0
