"""The console side of Prefect's logging in gypsum-flows commands (named by :mod:`.prefect_startup`'s config).

Imports Prefect, so only Prefect's logging set-up loads it.

Example:
    >>> keep = HarmlessNoiseFilter().filter
    >>> keep(logging.LogRecord("docket.worker", logging.ERROR, "", 0, "database is locked", None, None))
    False
"""

from __future__ import annotations

import copy
import logging

from prefect.logging.formatters import PrefectFormatter

from ..errors import GypsumError

#: Loggers of the embedded server and its background services, and what they report that is harmless:
#: SQLite lock contention (the service retries) and cancellation while the server shuts down.
BACKGROUND_LOGGERS = ("prefect.server", "docket", "uvicorn", "asyncio", "prefect._internal", "sqlalchemy")
HARMLESS_MARKERS = ("database is locked", "CancelledError", "Exception during reset", "Exception terminating")


class HarmlessNoiseFilter(logging.Filter):
    """Drops background-service records about SQLite lock contention or shutdown cancellation; keeps the rest.

    Example:
        >>> keep = HarmlessNoiseFilter().filter
        >>> record = lambda name: logging.LogRecord(name, logging.ERROR, "", 0, "database is locked", None, None)
        >>> keep(record("docket.worker")), keep(record("prefect.flow_runs"))
        (False, True)
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith(BACKGROUND_LOGGERS):
            return True
        text = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            text += f" {type(record.exc_info[1]).__name__}: {record.exc_info[1]}"
        return not any(marker in text for marker in HARMLESS_MARKERS)


class ConsoleFormatter(PrefectFormatter):
    """Prefect's console format, but an expected failure (a ``GypsumError``) shows no traceback.

    Example:
        >>> import sys
        >>> from gypsum_flows.errors import GypsumNotFoundError
        >>> try:
        ...     raise GypsumNotFoundError("no such project", status=404)
        ... except GypsumNotFoundError:
        ...     record = logging.LogRecord("x", logging.ERROR, "", 0, "failed", None, sys.exc_info())
        >>> "Traceback" in ConsoleFormatter("%(message)s").format(record)
        False
    """

    def format(self, record: logging.LogRecord) -> str:
        if record.exc_info and isinstance(record.exc_info[1], GypsumError):
            record = copy.copy(record)  # the API handler still sends the traceback
            record.exc_info, record.exc_text = None, None
        return super().format(record)
