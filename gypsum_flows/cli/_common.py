"""What the admin and inspection commands share: ``--url``, ``--token-env``, ``--json``, sizes and output.

The token is never taken from the command line itself: ``--token-env VAR``
names the environment variable holding it; without it the client's own
order applies (token file, ``GYPSUM_TOKEN``, ``GITHUB_TOKEN``).

Example:
    >>> parse_size("1.5GB"), parse_size("10GiB"), parse_size("100")
    (1500000000, 10737418240, 100)
"""

from __future__ import annotations

import argparse
import json
import os
import re
from collections.abc import Callable
from typing import Any, NamedTuple

from ..errors import GypsumAuthError
from ..names import check_name

_UNITS = {
    "": 1,
    "b": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "tb": 10**12,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")


class About(NamedTuple):
    """What ``--help`` says of a command: its line in the parent's list, and the paragraph atop its own page."""

    summary: str
    description: str | None = None


def add_command(
    subparsers: argparse._SubParsersAction,
    name: str,
    about: About,
    run: Callable[[argparse.Namespace], int] | None = None,
) -> argparse.ArgumentParser:
    """Add the command ``name``, described by ``about`` and carried out by ``run`` (none for a group).

    Example:
        >>> sub = argparse.ArgumentParser(prog="gypsum-flows").add_subparsers()
        >>> add_command(sub, "ping", About("answer pong"), run=lambda args: 0).format_usage()
        'usage: gypsum-flows ping [-h]\\n'
    """
    parser = subparsers.add_parser(name, help=about.summary, description=about.description)
    if run is not None:
        parser.set_defaults(func=run)
    return parser


def with_examples(parser: argparse.ArgumentParser, examples: str) -> argparse.ArgumentParser:
    """End ``parser``'s ``--help`` with ``examples``, as written (not re-wrapped); every command has some."""
    parser.epilog = examples
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    return parser


def add_connection(parser: argparse.ArgumentParser, *, token: bool = True, as_json: bool = True) -> None:
    """Add the shared ``--url``, ``--token-env`` and ``--json`` options."""
    parser.add_argument("--url", help="gypsum server URL (default: GYPSUM_REST_URL, else the public instance)")
    if token:
        parser.add_argument(
            "--token-env",
            metavar="VAR",
            help="environment variable holding the token (default: the saved token, else GYPSUM_TOKEN)",
        )
    if as_json:
        parser.add_argument("--json", action="store_true", help="print the result as JSON")


def token_from(args: argparse.Namespace) -> str | None:
    """The token in the variable named by ``--token-env`` (``None``: let the client find one)."""
    name = getattr(args, "token_env", None)
    if not name:
        return None
    token = os.environ.get(name)
    if not token:
        raise GypsumAuthError(f"--token-env {name}: that environment variable is empty or unset")
    return token


def names(**given: str | None) -> None:
    """Check project, asset and version names before anything is sent; a bad one raises naming it."""
    for kind, value in given.items():
        if value is not None:
            check_name(value, kind)


def parse_size(text: str) -> int:
    """Bytes from ``123``, ``10GB``, ``1.5GiB`` (decimal and binary units)."""
    match = _SIZE.match(text)
    unit = match.group(2).lower() if match else None
    if match is None or unit not in _UNITS:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (examples: 5000000000, 5GB, 10GiB)")
    return int(float(match.group(1)) * _UNITS[unit])


def emit(args: argparse.Namespace, data: Any, text: str) -> None:
    """Print ``data`` as JSON under ``--json``, else ``text``."""
    print(json.dumps(data, indent=2, default=str) if getattr(args, "json", False) else text)


def table(rows: list[list[str]], header: list[str]) -> str:
    """Rows as left-aligned columns under ``header``."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in [header, *rows]]
    return "\n".join(lines)
