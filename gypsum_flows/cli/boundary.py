"""The CLI boundary: any exception a command raises becomes a short message and a hint, never a traceback.

An expected failure (a ``GypsumError``, an ``OSError``) prints its message;
anything else prints one line naming the exception. :data:`~gypsum_flows.hints.HINTS`
is the one table that says what to do about a kind of failure. ``--traceback`` (before
or after the command) shows the full trace instead.

Example:
    >>> error_lines("publish", RuntimeError("Failed to reach API at http://127.0.0.1:9/api/"))[1]
    '  hint: is the Prefect server in PREFECT_API_URL running? Start one (`prefect server start`), or unset PREFECT_API_URL to use an embedded one'
"""

from __future__ import annotations

from ..errors import GypsumError
from ..hints import hint_for


def error_lines(command: str, exc: BaseException) -> list[str]:
    """The message for a failed command: the error (its first line if unexpected), then any hint.

    Example:
        >>> error_lines("check", KeyError("x"))
        ["gypsum-flows check: error: KeyError: 'x' (run with --traceback for the details)"]
    """
    if isinstance(exc, (GypsumError, OSError)):
        text = str(exc)
    else:
        first = (str(exc).strip().splitlines() or [""])[0]
        text = f"{type(exc).__name__}: {first}".rstrip(": ") + " (run with --traceback for the details)"
    hint = hint_for(exc)
    return [f"gypsum-flows {command}: error: {text}"] + ([f"  hint: {hint}"] if hint else [])
