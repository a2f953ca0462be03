"""``gypsum-flows versions PROJECT [ASSET]``: every version with its state, uploader and which one is latest."""

from __future__ import annotations

import argparse

from ..errors import GypsumNotFoundError
from ._common import About, add_command, add_connection, emit, names, table

ABOUT = About(
    "list the versions of a project's assets: latest, probation, uploader",
    "For each asset of PROJECT (or just ASSET): its versions, whether each is the latest, on "
    "probation or still uploading, who uploaded it and when. Needs no token.",
)

EXAMPLES = """examples:
  gypsum-flows versions scrnaseq-examples --url http://127.0.0.1:8787
  gypsum-flows versions scrnaseq-examples zeisel-brain --url http://127.0.0.1:8787 --json
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``versions`` command."""
    parser = add_command(subparsers, "versions", ABOUT, run)
    parser.add_argument("project", help="project name")
    parser.add_argument("asset", nargs="?", help="only this asset")
    add_connection(parser, token=False)


def _state(summary: dict) -> str:
    if "upload_finish" not in summary:
        return "uploading"
    return "probation" if summary.get("on_probation") else "published"


def versions_of(project: str, asset: str, url: str | None) -> list[dict]:
    """One row per version of ``asset``: version, latest, state, uploader, finish time."""
    from ..client import fetch_latest, fetch_summary, list_versions

    try:
        latest = fetch_latest(project, asset, url=url)
    except GypsumNotFoundError:
        latest = None
    rows = []
    for version in list_versions(project, asset, url=url):
        summary = fetch_summary(project, asset, version, cache_dir=False, url=url)
        rows.append(
            {
                "asset": asset,
                "version": version,
                "latest": version == latest,
                "state": _state(summary),
                "uploader": summary.get("upload_user_id"),
                "finished": summary.get("upload_finish"),
            }
        )
    return rows


def run(args: argparse.Namespace) -> int:
    """Print the versions table (or JSON)."""
    from ..client import fetch_permissions, list_assets

    names(project=args.project, asset=args.asset)
    fetch_permissions(args.project, url=args.url)  # a missing project's error says how to create it
    assets = list_assets(args.project, url=args.url)
    if args.asset is not None and args.asset not in assets:
        raise GypsumNotFoundError(
            f"project '{args.project}' has no asset '{args.asset}' (its assets: {', '.join(assets) or 'none yet'})"
        )
    rows = [
        row for asset in ([args.asset] if args.asset else assets) for row in versions_of(args.project, asset, args.url)
    ]
    shown = [
        [
            r["asset"],
            r["version"],
            "*" if r["latest"] else "",
            r["state"],
            r["uploader"] or "-",
            str(r["finished"] or "-"),
        ]
        for r in rows
    ]
    text = (
        table(shown, ["asset", "version", "latest", "state", "uploader", "finished"])
        if rows
        else (f"project '{args.project}' has no versions yet")
    )
    emit(args, rows, text)
    return 0
