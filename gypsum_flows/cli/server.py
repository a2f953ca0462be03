"""``gypsum-flows server``: run the local gypsum-compatible server on a folder."""

from __future__ import annotations

import argparse
import logging
import shlex
import signal
import sys
import threading
from pathlib import Path
from typing import TextIO

from ..constants import MAX_FILE_SIZE
from ._common import About, add_command, parse_size

ABOUT = About(
    "run a local gypsum-compatible server on a folder",
    "Serve the gypsum REST API over a bucket stored under --root until SIGINT/SIGTERM.",
)

EXAMPLES = """examples:
  gypsum-flows server --root ./registry
  gypsum-flows server --root ./registry --port 8787 --users users.yaml --metadata-dir ./metadata
  gypsum-flows server --root ./registry --port 0 --quiet     # any free port, no request log
  export GYPSUM_TOKEN=$(gypsum-flows server --root ./registry --print-token)   # its admin token, then exit
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``server`` command."""
    parser = add_command(subparsers, "server", ABOUT, run)
    parser.add_argument("--root", required=True, help="folder holding the bucket (created if missing)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: %(default)s)")
    parser.add_argument(
        "--port", type=int, default=8787, help="port to bind, 0 for any free one (default: %(default)s)"
    )
    parser.add_argument(
        "--users", help="YAML users file; without it one admin with a random token is generated (loopback only)"
    )
    parser.add_argument("--metadata-dir", help="folder served under /metadata/ (the SQLite metadata index)")
    parser.add_argument("--quiet", action="store_true", help="do not log requests to stderr")
    parser.add_argument(
        "--max-file-size",
        type=parse_size,
        default=MAX_FILE_SIZE,
        metavar="SIZE",
        help="refuse uploads of larger files, as the real gypsum does (default: 5GiB less "
        "5MiB, gypsum's single-upload limit; 0 for no limit)",
    )
    parser.add_argument(
        "--print-token",
        action="store_true",
        help="print the admin token of the users file (generating it if needed) and exit",
    )


def print_token(args: argparse.Namespace) -> int:
    """Print only the admin token on stdout (for ``$(...)``); where it comes from goes to stderr."""
    from ..server.run import generated_users_file
    from ..server.users import admin_token, generate_users_file

    users = args.users or generated_users_file(args.root)
    if args.users is None:
        _say_users_file(users, generated=not users.exists(), stream=sys.stderr)
        generate_users_file(users)
    print(admin_token(users), flush=True)
    return 0


def _say_users_file(users: Path, generated: bool, stream: TextIO) -> None:
    what = "generated users file (one admin and its token)" if generated else "reusing users file"
    print(f"{what}: {users}", file=stream, flush=True)


def run(args: argparse.Namespace) -> int:
    """Start the server, print where it listens, and block until SIGINT or SIGTERM."""
    from ..server import serve_in_thread
    from ..server.run import generated_users_file

    if args.print_token:
        return print_token(args)
    generated = args.users is None and not generated_users_file(args.root).exists()

    if not args.quiet:
        # One line per request (method, path, status, time); never headers, never query strings.
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        logging.getLogger("gypsum_flows.server").addHandler(handler)
        logging.getLogger("gypsum_flows.server").setLevel(logging.INFO)
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        server = serve_in_thread(
            args.root, args.users, args.host, args.port, args.metadata_dir, args.max_file_size or None
        )
        if args.users is None:
            _say_users_file(server.users_file, generated, sys.stdout)
            print(
                f"its admin token: export GYPSUM_TOKEN=$(gypsum-flows server --root {shlex.quote(args.root)} "
                "--print-token)",
                flush=True,
            )
        print(f"gypsum server listening on {server.url}", flush=True)
        while not stop.wait(0.5):
            pass
        server.stop()
    finally:
        for sig, previous_handler in previous.items():
            signal.signal(sig, previous_handler)
    print("gypsum server stopped", flush=True)
    return 0
