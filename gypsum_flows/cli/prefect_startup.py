"""How every command (and the demo) starts Prefect: one path, quiet, with a start-up that survives a loaded machine.

:func:`prepare` runs before Prefect is first imported. It turns telemetry
off, gives the embedded server a generous start-up timeout, and points
Prefect at a logging configuration (Prefect's own plus two additions) that
keeps its console to what a curator needs:

- :class:`~.prefect_logging.HarmlessNoiseFilter` drops what the embedded server's background
  services report about SQLite lock contention (they retry) and about being
  cancelled at shutdown;
- :class:`~.prefect_logging.ConsoleFormatter` prints an expected failure (a ``GypsumError``) as
  its one-line message, without the traceback (the run logs in the Prefect API
  keep it in full);
- the console shows warnings and errors only, unless ``verbose``.

The server in ``PREFECT_API_URL`` is used when set; otherwise Prefect's
embedded server starts on the first flow call, and :func:`announce` says so
in one line. :func:`shutdown` sends the last logs and events and stops the
embedded server before the process exits, so nothing races its shutdown.

Example::

    prepare()                       # before `import prefect`
    from gypsum_flows.flows import publish_batch
    announce()
    try:
        publish_batch("spec.yaml")
    finally:
        shutdown()
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import yaml

from ..cache import write_atomic

#: Seconds the embedded server may take to start: a fresh SQLite database runs every migration (25 s seen
#: under load, against Prefect's default of 20).
STARTUP_TIMEOUT_SECONDS = "180"

#: Whether this process set Prefect up (so any embedded server is its own to stop); not a test's or a host's.
_OWN = {"prefect": False}

#: File written under PREFECT_HOME with the logging configuration described above.
LOGGING_FILE = "gypsum-flows-logging.yml"


def prepare(home: Path | None = None, *, verbose: bool = False) -> None:
    """Set Prefect's environment for a quiet, patient start; does nothing once Prefect is imported.

    Args:
        home: Use this PREFECT_HOME (and the embedded server over its database, with our
            logging), ignoring any configured API; ``None`` keeps the user's PREFECT_HOME,
            PREFECT_API_URL and any PREFECT_LOGGING_SETTINGS_PATH.
        verbose: Also show Prefect's INFO logs (every run started and finished) on the console.
    """
    if home is not None:
        home.mkdir(parents=True, exist_ok=True)
        os.environ["PREFECT_HOME"] = str(home)
        for name in ("PREFECT_API_URL", "PREFECT_API_KEY", "PREFECT_PROFILE"):
            os.environ.pop(name, None)
    if "prefect" in sys.modules:  # configured already (a test, or a program that imports us)
        return
    _OWN["prefect"] = True
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", STARTUP_TIMEOUT_SECONDS)
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    if home is not None or "PREFECT_LOGGING_SETTINGS_PATH" not in os.environ:  # a user's own config is kept
        folder = Path(os.environ.get("PREFECT_HOME") or Path.home() / ".prefect").expanduser()
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / LOGGING_FILE
        write_atomic(str(path), logging_config(verbose).encode("utf-8"))
        os.environ["PREFECT_LOGGING_SETTINGS_PATH"] = str(path)


def logging_config(verbose: bool = False) -> str:
    """Prefect's default logging configuration (YAML) with the noise filter, the console formatter and level.

    Example:
        >>> config = yaml.safe_load(logging_config())
        >>> config["handlers"]["console"]["level"], config["handlers"]["console"]["filters"]
        ('WARNING', ['harmless_noise'])
    """
    spec = importlib.util.find_spec("prefect")  # located, not imported: the environment is not final yet
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("Prefect is not installed: pip install gypsum-flows")
    default = Path(spec.submodule_search_locations[0]) / "logging" / "logging.yml"
    config = yaml.safe_load(default.read_text())
    here = __name__.rsplit(".", 1)[0] + ".prefect_logging"
    config["filters"] = {"harmless_noise": {"()": f"{here}.HarmlessNoiseFilter"}}
    config["formatters"]["standard"]["()"] = f"{here}.ConsoleFormatter"
    for handler in ("console", "debug"):
        config["handlers"][handler]["filters"] = ["harmless_noise"]
    config["handlers"]["console"]["level"] = "INFO" if verbose else "WARNING"
    return yaml.safe_dump(config, sort_keys=False)


def uses_embedded_server() -> bool:
    """Whether flow runs of this process go to an embedded server started on demand (no API configured)."""
    from prefect.settings import get_current_settings

    settings = get_current_settings()
    return settings.api.url is None and settings.server.ephemeral.enabled


def announce() -> None:
    """Say in one line that the embedded server is starting, when it is (call just before the first flow)."""
    if uses_embedded_server():
        print(
            "Starting Prefect's embedded server (the first start in a new PREFECT_HOME takes 10-30 s; "
            "set PREFECT_API_URL to a running `prefect server start` to skip this) ...",
            file=sys.stderr,
            flush=True,
        )


def shutdown() -> None:
    """Send the last logs and events, then stop the embedded server if this process started one."""
    if not _OWN["prefect"] or "prefect" not in sys.modules:
        return
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all()
    EventsWorker.drain_all()
    # Only a process that started the embedded server has imported its module (importing it costs ~2 s).
    server = sys.modules.get("prefect.server.api.server")
    if server is not None:
        server.SubprocessASGIServer().stop()  # the port-less instance is the embedded server
