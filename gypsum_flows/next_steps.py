"""What to do next, appended by the client to the server errors people meet first (typed classes unchanged).

:mod:`gypsum_flows.hints` then adds its advice under any error the CLI or a batch report shows.

Example:
    >>> print(for_status(400, "no existing permissions for project 'demo'", "http://127.0.0.1:8787/upload/start/x"))
    ; project 'demo' does not exist: create it with 'gypsum-flows project create demo --owner LOGIN' (needs an admin's token)
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from .names import is_loopback

_NO_PERMISSIONS = re.compile(r"no existing permissions for project '([^']*)'")


def create_project(project: str) -> str:
    """How to create a missing project, and who may."""
    return (
        f"project '{project}' does not exist: create it with "
        f"'gypsum-flows project create {project} --owner LOGIN' (needs an admin's token)"
    )


def is_local(url: str | None) -> bool:
    """Whether ``url`` points at this machine (a local gypsum server).

    Example:
        >>> is_local("http://127.0.0.1:8787"), is_local("http://localhost:1"), is_local("https://gypsum.artifactdb.com")
        (True, True, False)
    """
    return is_loopback(urlsplit(url or "").hostname or "")


def for_status(status: int | None, reason: str, url: str | None) -> str:
    """``"; <what to do>"`` for a known error, else ``""``."""
    missing = _NO_PERMISSIONS.search(reason)
    if missing:
        return "; " + create_project(missing.group(1))
    if status == 401 and is_local(url):
        return (
            "; this local server knows only the tokens in its users file (--users, or the generated "
            "<root>.state/users.yaml): export GYPSUM_TOKEN=$(gypsum-flows server --root ROOT --print-token)"
        )
    return ""
