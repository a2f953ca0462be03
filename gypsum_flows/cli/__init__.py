"""The ``gypsum-flows`` command line: one module per command group.

Each module in :data:`COMMANDS` has ``register(subparsers)``, which adds its
commands and sets ``func(args) -> int`` on them. Errors are turned into one
readable line and a hint by :func:`main` (see :mod:`.boundary`);
``--traceback``, before or after the command, shows the full trace.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from .. import __version__
from ._common import with_examples
from .boundary import error_lines

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
        module = importlib.import_module(f"{__name__}.{name}")
        known = set(sub.choices)
        module.register(sub)
        for added in sub.choices.keys() - known:
            with_examples(sub.choices[added], module.EXAMPLES)
    for command in set(sub.choices.values()):
        # SUPPRESS: the flag given before the command is not reset by the command's own default.
        command.add_argument(
            "--traceback", action="store_true", default=argparse.SUPPRESS, help="show the full traceback on errors"
        )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if args.traceback:
            raise
        print("\n".join(error_lines(args.command, exc)), file=sys.stderr)
        return 1
