"""``gypsum-flows project``: create projects and inspect or change their permissions, quota, usage and lock."""

from __future__ import annotations

import argparse
from typing import TypedDict

from ._common import About, add_command, add_connection, emit, names, parse_size, table, token_from, with_examples

ABOUT = About(
    "create projects; show or change permissions, quota, usage; unlock or remove (admins)",
    "Project administration. Creating, removing, unlocking and setting quotas need an admin's "
    "token; changing permissions needs an owner's or an admin's; showing needs none.",
)

EXAMPLES = """examples:
  export GYPSUM_TOKEN=$(gypsum-flows server --root ./registry --print-token)   # the local server's admin
  gypsum-flows project create scrnaseq-examples --owner alice --uploader bob:trusted --quota 10GB \\
      --url http://127.0.0.1:8787
  gypsum-flows project permissions scrnaseq-examples --url http://127.0.0.1:8787
  gypsum-flows project permissions scrnaseq-examples --add-uploader carol --url http://127.0.0.1:8787
  gypsum-flows project quota scrnaseq-examples --set 20GB --url http://127.0.0.1:8787
  gypsum-flows project usage scrnaseq-examples --refresh --url http://127.0.0.1:8787 --json
  gypsum-flows project unlock scrnaseq-examples --url http://127.0.0.1:8787
  gypsum-flows project remove scrnaseq-examples --yes --url http://127.0.0.1:8787
"""


def _uploader(text: str) -> dict:
    """``LOGIN`` or ``LOGIN:trusted`` as an uploader entry."""
    login, _, flag = text.partition(":")
    if not login or flag not in ("", "trusted"):
        raise argparse.ArgumentTypeError(f"expected LOGIN or LOGIN:trusted, got {text!r}")
    return {"id": login, "trusted": True} if flag else {"id": login}


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``project`` and its subcommands."""
    parser = add_command(subparsers, "project", ABOUT)
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    create = with_examples(add_command(sub, "create", About("create a project (admins)"), run_create), EXAMPLES)
    create.add_argument(
        "--owner",
        action="append",
        required=True,
        metavar="LOGIN",
        help="GitHub login or organisation owning the project; repeatable",
    )
    create.add_argument(
        "--uploader",
        action="append",
        type=_uploader,
        metavar="LOGIN[:trusted]",
        help="allow this login to upload (':trusted' skips probation); repeatable",
    )
    _quota_arguments(create, "--quota")

    perms = add_command(
        sub, "permissions", About("show a project's owners and uploaders, or add to them"), run_permissions
    )
    perms.add_argument("--add-owner", action="append", metavar="LOGIN", help="add an owner; repeatable")
    perms.add_argument(
        "--add-uploader", action="append", type=_uploader, metavar="LOGIN[:trusted]", help="add an uploader; repeatable"
    )

    quota = add_command(sub, "quota", About("show a project's quota, or change it (admins)"), run_quota)
    _quota_arguments(quota, "--set")

    usage = add_command(sub, "usage", About("show a project's storage usage"), run_usage)
    usage.add_argument("--refresh", action="store_true", help="recompute it from the bucket first (admins)")

    unlock = add_command(sub, "unlock", About("remove a project's lock left by a failed upload (admins)"), run_unlock)

    remove = add_command(sub, "remove", About("delete a project and everything in it (admins)"), run_remove)
    remove.add_argument("--yes", action="store_true", help="really delete (required)")

    for action in (create, perms, quota, usage, unlock, remove):
        # Every action names one project; a positional's place among the options does not change --help.
        action.add_argument("project", help="project name")
        add_connection(action)


def _quota_arguments(parser: argparse.ArgumentParser, baseline_flag: str) -> None:
    parser.add_argument(
        baseline_flag,
        dest="baseline",
        type=parse_size,
        metavar="SIZE",
        help="quota in bytes at creation, e.g. 10GB or 5GiB",
    )
    parser.add_argument("--growth-rate", type=parse_size, metavar="SIZE", help="quota growth per year")
    parser.add_argument("--year", type=int, help="year the quota starts from")


class _QuotaOptions(TypedDict):
    """``--baseline``, ``--growth-rate`` and ``--year`` as parsed: the quota keywords of the client."""

    baseline: int | None
    growth_rate: int | None
    year: int | None


def _quota(args: argparse.Namespace) -> _QuotaOptions:
    """The quota options as given (``None`` where not)."""
    return {"baseline": args.baseline, "growth_rate": args.growth_rate, "year": args.year}


def run_create(args: argparse.Namespace) -> int:
    """Create the project and print what it now holds."""
    from ..client import create_project

    names(project=args.project)
    create_project(
        args.project,
        owners=args.owner,
        uploaders=args.uploader,
        **_quota(args),
        url=args.url,
        token=token_from(args),
    )
    emit(
        args,
        {"project": args.project, "owners": args.owner, "uploaders": args.uploader or []},
        f"created project '{args.project}' (owners: {', '.join(args.owner)})",
    )
    return 0


def run_permissions(args: argparse.Namespace) -> int:
    """Add owners or uploaders if asked, then show the permissions."""
    from ..client import fetch_permissions, set_permissions

    names(project=args.project)
    if args.add_owner or args.add_uploader:
        set_permissions(
            args.project, owners=args.add_owner, uploaders=args.add_uploader, url=args.url, token=token_from(args)
        )
    perms = fetch_permissions(args.project, url=args.url)
    rows = [
        [
            u["id"],
            "yes" if u.get("trusted") else "no",
            u.get("asset", "*"),
            u.get("version", "*"),
            str(u.get("until", "-")),
        ]
        for u in perms.get("uploaders", [])
    ]
    text = f"owners: {', '.join(perms.get('owners', [])) or '(none)'}\n"
    text += table(rows, ["uploader", "trusted", "asset", "version", "until"]) if rows else "uploaders: (none)"
    emit(args, perms, text)
    return 0


def run_quota(args: argparse.Namespace) -> int:
    """Change the quota if asked, then show it."""
    from ..client import fetch_permissions, fetch_quota, set_quota

    names(project=args.project)
    fetch_permissions(args.project, url=args.url)  # a missing project's error says how to create it
    quota_change = _quota(args)
    if any(value is not None for value in quota_change.values()):
        set_quota(args.project, **quota_change, url=args.url, token=token_from(args))
    quota = fetch_quota(args.project, url=args.url)
    emit(
        args,
        quota,
        f"{args.project}: baseline {quota['baseline']:,} bytes, growth {quota['growth_rate']:,} "
        f"bytes/year from {quota['year']}",
    )
    return 0


def run_usage(args: argparse.Namespace) -> int:
    """Show (optionally recompute) the usage."""
    from ..client import fetch_permissions, fetch_usage, refresh_usage

    names(project=args.project)
    fetch_permissions(args.project, url=args.url)
    total = (
        refresh_usage(args.project, url=args.url, token=token_from(args))
        if args.refresh
        else fetch_usage(args.project, url=args.url)
    )
    emit(args, {"project": args.project, "total": total}, f"{args.project}: {total:,} bytes used")
    return 0


def run_unlock(args: argparse.Namespace) -> int:
    """Remove the project's lock."""
    from ..client import fetch_permissions, unlock_project

    names(project=args.project)
    fetch_permissions(args.project, url=args.url)
    unlock_project(args.project, url=args.url, token=token_from(args))
    emit(args, {"project": args.project, "unlocked": True}, f"unlocked project '{args.project}'")
    return 0


def run_remove(args: argparse.Namespace) -> int:
    """Delete the project (only with ``--yes``)."""
    from ..client import fetch_permissions, remove_project

    names(project=args.project)
    if not args.yes:
        raise ValueError(f"this deletes project '{args.project}' and all its versions: add --yes to do it")
    fetch_permissions(args.project, url=args.url)
    remove_project(args.project, url=args.url, token=token_from(args))
    emit(args, {"project": args.project, "removed": True}, f"removed project '{args.project}'")
    return 0
