"""``gypsum-flows server``: run the local gypsum-compatible server on a folder."""

from __future__ import annotations

import argparse
import logging
import signal
import threading

EXAMPLES = """examples:
  gypsum-flows server --root ./registry
  gypsum-flows server --root ./registry --port 8787 --users users.yaml --metadata-dir ./metadata
  gypsum-flows server --root ./registry --port 0 --quiet     # any free port, no request log
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``server`` command."""
    parser = subparsers.add_parser(
        "server",
        help="run a local gypsum-compatible server on a folder",
        description="Serve the gypsum REST API over a bucket stored under --root until SIGINT/SIGTERM.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
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
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Start the server, print where it listens, and block until SIGINT or SIGTERM."""
    from ..server import serve_in_thread

    if not args.quiet:
        # One line per request (method, path, status, time); never headers, never query strings.
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        logging.getLogger("gypsum_flows.server").addHandler(handler)
        logging.getLogger("gypsum_flows.server").setLevel(logging.INFO)
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        server = serve_in_thread(args.root, args.users, args.host, args.port, args.metadata_dir)
        if args.users is None:
            print(f"generated users file (one admin and its token): {server.users_file}", flush=True)
        print(f"gypsum server listening on {server.url}", flush=True)
        while not stop.wait(0.5):
            pass
        server.stop()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print("gypsum server stopped", flush=True)
    return 0
