"""``gypsum-flows index``: build or update metadata indexes from a gypsum server's REST API."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

from ._common import About, add_command

DEFAULT_CLASS = "_bioconductor.json,bioconductor.sqlite3"

ABOUT = About(
    "build or update SQLite metadata indexes from a gypsum server",
    "Index metadata files of a gypsum registry (through /list and /file) into SQLite databases and a "
    "'modified' stamp in --dir. Without --fresh, replays the registry's logs since the last run, or "
    "builds fresh when --dir holds no earlier build.",
)

EXAMPLES = f"""examples:
  gypsum-flows index --url http://127.0.0.1:8787 --dir ./metadata --fresh
  gypsum-flows index --url https://gypsum.artifactdb.com --dir ./metadata --class {DEFAULT_CLASS}
  gypsum-flows server --root ./registry --metadata-dir ./metadata   # then serve it under /metadata/
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``index`` command."""
    parser = add_command(subparsers, "index", ABOUT, run)
    parser.add_argument("--url", required=True, help="base URL of the gypsum server")
    parser.add_argument("--dir", required=True, help="folder for the databases and the 'modified' stamp")
    parser.add_argument(
        "--class",
        dest="classes",
        action="append",
        metavar="BASENAME,DBNAME",
        help=f"index files named BASENAME into DBNAME; repeatable (default: {DEFAULT_CLASS})",
    )
    parser.add_argument("--fresh", action="store_true", help="rebuild from scratch instead of replaying logs")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")


def run(args: argparse.Namespace) -> int:
    """Run a fresh build or an update; exit 1 if any version or log failed to index."""
    from ..index.build import MODIFIED_FILE, IndexClass, build_fresh, update

    classes = [IndexClass.parse(spec) for spec in args.classes or [DEFAULT_CLASS]]
    fresh = args.fresh or not (Path(args.dir) / MODIFIED_FILE).exists()
    report = (build_fresh if fresh else update)(args.url, args.dir, classes)
    if args.json:
        print(json.dumps({"mode": "fresh" if fresh else "update", **asdict(report)}, indent=2))
    else:
        what = f"indexed {report.versions} versions" if fresh else f"replayed {report.logs} logs"
        print(f"{'fresh build' if fresh else 'update'}: {what} into {args.dir} (modified={report.modified})")
        for error in report.errors:
            print(f"  failed: {error}")
    return 1 if report.errors else 0
