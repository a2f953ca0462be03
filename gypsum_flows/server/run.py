"""Serving: uvicorn in a background thread, with a clean stop."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import uvicorn
from filelock import FileLock, Timeout
from starlette.types import ASGIApp

from ..constants import MAX_FILE_SIZE
from ..names import is_loopback
from .app import create_app, state_dir
from .users import generate_users_file, load_users

logger = logging.getLogger("gypsum_flows.server")

#: Seconds to wait for the server to accept requests.
STARTUP_TIMEOUT = 30.0


@dataclass
class RunningServer:
    """A server answering on :attr:`url` until :meth:`stop`."""

    url: str
    root: Path
    users_file: Path
    request_log: list[tuple[str, str]] = field(repr=False)
    #: ``(time, event, project, asset, version)`` of project locks taken, refused and released.
    lock_history: deque[tuple[float, str, str, str, str]] = field(repr=False)
    _server: uvicorn.Server = field(repr=False)
    _thread: threading.Thread = field(repr=False)
    _claim: FileLock = field(repr=False)

    def stop(self, timeout: float = 10.0) -> None:
        """Finish the requests in flight, close the socket, join the thread and free the root."""
        self._server.should_exit = True
        self._thread.join(timeout)
        self._claim.release()


def _listen(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` (port 0: any free one); a clear error if that fails."""
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets created with it, and without
    # TCP_NODELAY every response waits ~40 ms for the client's delayed ACK.
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise OSError(exc.errno, f"cannot listen on {host}:{port}: {exc.strerror}") from None
    return sock


def _claim_root(root: Path) -> FileLock:
    """Hold ``<root>.state/server.lock``: one server per root, since project locks live in its memory."""
    state_dir(root).mkdir(parents=True, exist_ok=True)
    claim = FileLock(state_dir(root) / "server.lock")
    try:
        claim.acquire(timeout=0)
    except Timeout:
        raise ValueError(f"another gypsum server is already serving {root}") from None
    return claim


def _start(app: ASGIApp, sock: socket.socket) -> tuple[uvicorn.Server, threading.Thread]:
    """Run uvicorn on ``sock`` in a daemon thread; return once it accepts requests."""
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off", timeout_graceful_shutdown=5)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="gypsum-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError(f"the gypsum server on {sock.getsockname()} did not start")
        time.sleep(0.01)
    return server, thread


def generated_users_file(root: str | os.PathLike[str]) -> Path:
    """Where the users file generated for ``root`` lives: ``<root>.state/users.yaml``, outside the served folder.

    Example:
        >>> generated_users_file("/data/registry")
        PosixPath('/data/registry.state/users.yaml')
    """
    return state_dir(Path(root).resolve()) / "users.yaml"


def serve_in_thread(
    root: str | os.PathLike[str],
    users_file: str | os.PathLike[str] | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    metadata_dir: str | os.PathLike[str] | None = None,
    max_file_size: int | None = MAX_FILE_SIZE,
) -> RunningServer:
    """Start a local gypsum server on ``root`` and return once it accepts requests.

    Without ``users_file`` a users file with one administrator and a random
    token is generated in the private state folder (``<root>.state/users.yaml``)
    and reused on restart; that needs a loopback ``host``. ``port=0`` picks a
    free port. Only one server may serve a root at a time; temporary files
    that interrupted uploads left behind are removed at start. Uploads of a file over ``max_file_size`` bytes
    (default: gypsum's 4.995 GiB single-upload limit; ``None`` for none) are refused before the lock.

    Raises:
        ValueError: a non-loopback host without a users file, a users file inside
            ``root`` (it would be served), a malformed users file, or a root
            already served by another server.
        OSError: the address cannot be bound.

    Example:
        >>> import tempfile, pathlib, urllib.request
        >>> server = serve_in_thread(pathlib.Path(tempfile.mkdtemp()) / "root")
        >>> urllib.request.urlopen(server.url + "/list").read()
        b'[]'
        >>> server.stop()
    """
    root = Path(root).resolve()
    if users_file is None:
        if not is_loopback(host):
            raise ValueError(f"binding to {host} (not loopback) needs an explicit users file (--users)")
        users_file = generate_users_file(generated_users_file(root))
    users_file = Path(users_file).resolve()
    if root in users_file.parents:
        raise ValueError(f"the users file {users_file} is inside the served root {root}; move it out")
    users = load_users(users_file)
    claim = _claim_root(root)
    try:
        app = create_app(root, users, metadata_dir, max_file_size)
        # Holding the claim, no other server writes here: every temporary file is a crashed PUT's.
        swept = app.state.bucket.sweep_temp()
        if swept:
            logger.info("removed %d temporary files left by interrupted uploads in %s", swept, root)
        sock = _listen(host, port)
        server, thread = _start(app, sock)
    except BaseException:
        claim.release()
        raise
    bound_host, bound_port = sock.getsockname()[:2]
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    return RunningServer(
        f"http://{shown}:{bound_port}",
        root,
        users_file,
        app.state.request_log,
        app.state.bucket.lock_history,
        server,
        thread,
        claim,
    )
