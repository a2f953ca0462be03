"""The ``gypsum-flows`` command line: one module per command group.

Each module in :data:`COMMANDS` has ``register(subparsers)``, which adds its
commands and sets ``func(args) -> int`` on them. Errors are turned into one
readable line by :func:`main`; ``--traceback`` shows the full trace.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from .. import __version__
from ..errors import GypsumError

#: Command modules under ``gypsum_flows.cli``, in ``--help`` order.
COMMANDS = ["server", "demo", "index", "recover", "publish"]
COMMANDS += ["project", "versions", "probation", "login"]


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every command group registered."""
    parser = argparse.ArgumentParser(
        prog="gypsum-flows",
        description="Publish datasets to gypsum, run a local gypsum server, index metadata.",
    )
    parser.add_argument("--traceback", action="store_true", help="show the full traceback on errors")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        importlib.import_module(f"{__name__}.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except (GypsumError, OSError, ValueError) as exc:
        if args.traceback:
            raise
        print(f"gypsum-flows {args.command}: error: {exc}", file=sys.stderr)
        return 1
