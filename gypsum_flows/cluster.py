"""A PostgreSQL-backed Prefect server and process workers on this machine, started as users start them.

For trying fan-out, for the scale tests and for ``bench/bench_scale.py``:
each piece is the real program in its own process. :class:`Postgres` runs
Debian's ``initdb`` and ``pg_ctl`` on a temporary data folder and a free
loopback port (as the ``postgres`` user when run as root, since PostgreSQL
refuses root). :class:`PrefectServer` is ``prefect server start`` on that
database. :class:`Worker` is ``prefect worker start`` with its own
``PREFECT_HOME``, ``GYPSUM_CACHE_DIR`` and working folder, like a separate
machine. Stopping (or killing) a process also stops every process below it,
such as the flow runs a worker started.

Example::

    with Postgres(base / "pg") as pg, PrefectServer(base / "prefect", pg.url) as prefect:
        prefect.cli("work-pool", "create", "gypsum-process", "--type", "process")
        with Worker(base / "w1", prefect, "gypsum-process", name="w1"):
            ...
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, TypeVar

# Prefect's own HTTP client: the Prefect API is not gypsum, and only the gypsum transport imports requests.
import httpx
import yaml

#: Seconds allowed for PostgreSQL, the Prefect server (fresh database: every migration runs) and a CLI call.
START_TIMEOUT = 300.0
#: Environment a fast test or bench cluster runs with: quick polling, no analytics or UI, quick lease checks.
FAST_POLLING = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_SERVER_UI_ENABLED": "false",
    "PREFECT_WORKER_QUERY_SECONDS": "1",
    "PREFECT_WORKER_PREFETCH_SECONDS": "1",
    "PREFECT_WORKER_HEARTBEAT_SECONDS": "5",
    "PREFECT_SERVER_SERVICES_REPOSSESSOR_LOOP_SECONDS": "2",
    "PREFECT_SERVER_CONCURRENCY_MAXIMUM_CONCURRENCY_SLOT_WAIT_SECONDS": "2",
    # On a busy machine a new PostgreSQL connection can take longer than the 5 s default, and fail requests.
    "PREFECT_SERVER_DATABASE_CONNECTION_TIMEOUT": "60",
    "PREFECT_SERVER_DATABASE_TIMEOUT": "60",
}


_S = TypeVar("_S", bound="_Service")


class ClusterError(RuntimeError):
    """A piece of the local cluster did not start; the message holds the end of its log."""


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now.

    Example:
        >>> 1024 < free_port() < 65536
        True
    """
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def postgres_bin() -> Path:
    """The folder of PostgreSQL's server programs: ``$PG_BIN``, Debian's newest, or the ``PATH``'s.

    Example::

        postgres_bin() / "initdb"
    """
    if os.environ.get("PG_BIN"):
        return Path(os.environ["PG_BIN"])
    debian = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    found = debian[-1] if debian else shutil.which("initdb")
    if not found:
        raise ClusterError(
            "PostgreSQL is not installed: no /usr/lib/postgresql/*/bin/initdb and no initdb on "
            "PATH (Debian: apt-get install postgresql; or set PG_BIN)"
        )
    return Path(found).parent


def _tail(path: Path, size: int = 3000) -> str:
    try:
        return path.read_text(errors="replace")[-size:]
    except OSError:
        return ""


def _descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (from ``/proc``): flow-run processes may run in sessions of their own."""
    children: dict[int, list[int]] = {}
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            fields = Path(stat).read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.split("/")[2]))
    found, queue = [], [pid]
    while queue:
        for child in children.get(queue.pop(), []):
            found.append(child)
            queue.append(child)
    return found


def _signal(pids: list[int], signum: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass


def _stop(process: subprocess.Popen, sig: int = signal.SIGTERM, wait: float = 20) -> None:
    """Signal ``process``, its session and every descendant; SIGKILL what is left after ``wait`` seconds."""
    below = _descendants(process.pid)
    for signum, seconds in ((sig, wait), (signal.SIGKILL, 10)):
        try:
            os.killpg(process.pid, signum)
        except ProcessLookupError:
            pass
        _signal(below, signum)
        try:
            process.wait(seconds)
        except subprocess.TimeoutExpired:
            continue
        if signum == signal.SIGKILL or not any(Path(f"/proc/{pid}").exists() for pid in below):
            break
    _signal(below, signal.SIGKILL)


class _Service(ABC):
    """Something started by ``start()`` and stopped by ``stop()``; as a context manager, for its ``with`` block."""

    @abstractmethod
    def start(self: _S) -> _S:
        """Start it and return it."""

    @abstractmethod
    def stop(self) -> None:
        """Stop it."""

    def __enter__(self: _S) -> _S:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _Subprocess(_Service):
    """A service run as one child process (with its own session, so its children stop with it)."""

    process: subprocess.Popen | None = None

    def stop(self) -> None:
        """Stop the process and its children (SIGTERM, then SIGKILL)."""
        if self.process is not None:
            _stop(self.process)


class Postgres(_Service):
    """A throw-away PostgreSQL cluster on 127.0.0.1 with a ``prefect`` database (trust auth, loopback only)."""

    def __init__(self, base: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.bin = postgres_bin()
        self.user = self._os_user()
        # Outside ``base``: a root-owned 0700 parent (pytest's tmp) would keep the postgres user out.
        self.data = Path(tempfile.mkdtemp(prefix="gypsum-pg-")) if self.user else Path(base) / "pgdata"
        self.url = f"postgresql+asyncpg://prefect@127.0.0.1:{self.port}/prefect"

    @staticmethod
    def _os_user() -> str | None:
        """``postgres`` when running as root (PostgreSQL refuses root), else ``None`` (this user)."""
        if os.geteuid() != 0:
            return None
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            raise ClusterError("running as root, and there is no 'postgres' user to run PostgreSQL as") from None
        return "postgres"

    def _run(self, program: str, *args: str) -> None:
        command = [str(self.bin / program), *args]
        if self.user:
            command = ["runuser", "-u", self.user, "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=START_TIMEOUT)
        if result.returncode:
            raise ClusterError(
                f"{program} failed ({result.returncode}): {result.stdout[-2000:]}{result.stderr[-2000:]}"
                f"\n{_tail(self.data / 'postgres.log')}"
            )

    def start(self) -> Postgres:
        """``initdb``, ``pg_ctl start`` on the free port, ``createdb prefect``."""
        self.data.mkdir(parents=True, exist_ok=True)
        if self.user:
            shutil.chown(self.data, self.user, self.user)
        self._run("initdb", "-D", str(self.data), "-U", "prefect", "--auth=trust", "-E", "UTF8", "--no-sync")
        options = f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.data / "postgres.log"),
            "-w",
            "-t",
            str(int(START_TIMEOUT)),
            "start",
        )
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "prefect", "prefect")
        return self

    def stop(self) -> None:
        """Stop the server and delete its data folder."""
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
        shutil.rmtree(self.data, ignore_errors=True)


class PrefectServer(_Subprocess):
    """``prefect server start --no-ui`` on loopback, on the database at ``database_url``."""

    def __init__(self, base: Path, database_url: str, port: int | None = None, env: dict[str, str] | None = None):
        self.base = Path(base)
        self.port = port or free_port()
        self.api_url = f"http://127.0.0.1:{self.port}/api"
        self.log = self.base / "server.log"
        #: The environment of every process that talks to this server (CLI calls, workers, batches).
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "GYPSUM_"))}
        self.env.update(
            FAST_POLLING, **(env or {}), PREFECT_API_URL=self.api_url, PREFECT_HOME=str(self.base / "client-home")
        )
        self._database_url = database_url
        self.process: subprocess.Popen | None = None

    def start(self) -> PrefectServer:
        """Start the server and wait for its health check."""
        self.base.mkdir(parents=True, exist_ok=True)
        env = {
            **self.env,
            "PREFECT_HOME": str(self.base / "server-home"),
            "PREFECT_SERVER_DATABASE_CONNECTION_URL": self._database_url,
        }
        command = [
            sys.executable,
            "-m",
            "prefect",
            "server",
            "start",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--no-ui",
        ]
        with self.log.open("w") as out:
            self.process = subprocess.Popen(
                command, env=env, cwd=self.base, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ClusterError(f"prefect server exited with {self.process.returncode}:\n{_tail(self.log)}")
            try:
                if httpx.get(self.api_url + "/health", timeout=5).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise ClusterError(f"prefect server not healthy after {START_TIMEOUT:.0f} s:\n{_tail(self.log)}")

    def cli(self, *args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> str:
        """Run ``prefect ARGS`` against this server; its output, or :class:`ClusterError` if it fails."""
        result = subprocess.run(
            [sys.executable, "-m", "prefect", *args],
            env={**self.env, **(env or {})},
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=START_TIMEOUT,
        )
        if result.returncode:
            raise ClusterError(
                f"prefect {' '.join(args)} failed ({result.returncode}):\n"
                f"{result.stdout[-3000:]}{result.stderr[-3000:]}"
            )
        return result.stdout

    def deploy(
        self, prefect_file: Path, cwd: Path, entrypoint: str | None = None, env: dict[str, str] | None = None
    ) -> str:
        """``prefect deploy --all`` of ``prefect_file``, run from ``cwd``; with ``entrypoint``, only its deployment.

        Deploying one deployment keeps the others' schedules and event
        triggers (index-update runs on every published version) from starting
        runs of their own on the workers.
        """
        if entrypoint is not None:
            config = yaml.safe_load(prefect_file.read_text())
            config["deployments"] = [d for d in config["deployments"] if d.get("entrypoint") == entrypoint]
            if not config["deployments"]:
                raise ClusterError(f"{prefect_file} has no deployment of {entrypoint}")
            prefect_file = Path(cwd) / "prefect.yaml"
            prefect_file.write_text(yaml.safe_dump(config, sort_keys=False))
        return self.cli("--no-prompt", "deploy", "--all", "--prefect-file", str(prefect_file), env=env, cwd=cwd)

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        """One REST call to the server's API; the decoded JSON answer (``None`` if empty)."""
        response = httpx.request(method, self.api_url + path, timeout=60, **kwargs)
        response.raise_for_status()
        return response.json() if response.content else None


class Worker(_Subprocess):
    """``prefect worker start --type process`` with a home, cache and working folder of its own under ``base``.

    ``limit`` caps the flow runs it runs at once (``--limit``).
    """

    def __init__(
        self,
        base: Path,
        server: PrefectServer,
        pool: str,
        name: str,
        limit: int | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.base = Path(base)
        self.name = name
        self.home, self.cache, self.workdir = self.base / "home", self.base / "cache", self.base / "work"
        self.log = self.base / "worker.log"
        self.env = {**server.env, **(env or {}), "PREFECT_HOME": str(self.home), "GYPSUM_CACHE_DIR": str(self.cache)}
        self.command = [
            sys.executable,
            "-m",
            "prefect",
            "worker",
            "start",
            "--pool",
            pool,
            "--type",
            "process",
            "--name",
            name,
            *(["--limit", str(limit)] if limit else []),
        ]
        self.process: subprocess.Popen | None = None

    def start(self) -> Worker:
        """Start polling the pool (returns at once; the worker registers within a poll)."""
        for folder in (self.home, self.cache, self.workdir):
            folder.mkdir(parents=True, exist_ok=True)
        with self.log.open("a") as out:
            self.process = subprocess.Popen(
                self.command,
                env=self.env,
                cwd=self.workdir,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def kill(self) -> None:
        """SIGKILL the worker and the flow runs it started, as when its machine dies."""
        if self.process is not None:
            _stop(self.process, signal.SIGKILL, 10)
