"""``gypsum-flows probation approve|reject PROJECT ASSET VERSION`` (owners and admins)."""

from __future__ import annotations

import argparse

from ..errors import GypsumInvalidRequestError
from ._common import About, add_command, add_connection, emit, names, token_from

ABOUT = About(
    "approve or reject a version uploaded on probation (owners, admins)",
    "Approving makes a probational version permanent (and the latest if it is the newest); rejecting deletes it.",
)

EXAMPLES = """examples:
  gypsum-flows versions scrnaseq-examples --url http://127.0.0.1:8787      # which versions are on probation
  gypsum-flows probation approve scrnaseq-examples zeisel-brain 2024-01-01 --url http://127.0.0.1:8787
  gypsum-flows probation reject scrnaseq-examples zeisel-brain 2024-01-02 --url http://127.0.0.1:8787
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``probation approve`` and ``probation reject``."""
    parser = add_command(subparsers, "probation", ABOUT)
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    for action, text in (("approve", "make the version permanent"), ("reject", "delete the version")):
        child = add_command(sub, action, About(text), run)
        for name in ("project", "asset", "version"):
            child.add_argument(name, help=f"{name} name")
        add_connection(child)


def run(args: argparse.Namespace) -> int:
    """Approve or reject; a version that is not on probation gets a clear error."""
    from ..client import approve_probation, fetch_permissions, fetch_summary, reject_probation

    names(project=args.project, asset=args.asset, version=args.version)
    fetch_permissions(args.project, url=args.url)
    summary = fetch_summary(args.project, args.asset, args.version, cache_dir=False, url=args.url)
    if not summary.get("on_probation"):
        raise GypsumInvalidRequestError(f"{args.project}/{args.asset}/{args.version} is not on probation")
    call = approve_probation if args.action == "approve" else reject_probation
    call(args.project, args.asset, args.version, url=args.url, token=token_from(args))
    done = "approved" if args.action == "approve" else "rejected (deleted)"
    emit(
        args,
        {"project": args.project, "asset": args.asset, "version": args.version, "action": args.action},
        f"{args.project}/{args.asset}/{args.version}: {done}",
    )
    return 0
