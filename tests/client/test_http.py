"""The HTTP layer: typed errors, retry policies, and requests confined to gypsum_flows/_http.py."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest

import gypsum_flows
from gypsum_flows import _http
from gypsum_flows.errors import (
    GypsumHTTPError,
    GypsumInvalidRequestError,
    GypsumLockedError,
    GypsumNotFoundError,
    GypsumPermissionError,
    GypsumQuotaExceededError,
    GypsumTransientError,
    is_transient,
)


@pytest.mark.parametrize(
    ("status", "reason", "cls"),
    [
        (404, "object not found", GypsumNotFoundError),
        (401, "no user identity supplied", GypsumPermissionError),
        (403, "user is not an owner of project 'p'", GypsumPermissionError),
        (403, "project asset has already been locked", GypsumLockedError),
        (400, "upload exceeds the storage quota for this project", GypsumQuotaExceededError),
        (400, "project-asset-version already exists", GypsumInvalidRequestError),
        (200, "'files.path' cannot contain repeated '/'", GypsumInvalidRequestError),
        (429, "slow down", GypsumTransientError),
        (500, "no file at 'p/..usage'", GypsumTransientError),
        (503, "unavailable", GypsumTransientError),
        (418, "teapot", GypsumHTTPError),
    ],
)
def test_error_classes(status, reason, cls):
    error = _http.error_for(status, reason, "GET", "http://x/file/k")
    assert type(error) is cls and error.status == status and error.reason == reason
    assert str(error) == f"{status} {reason} (GET http://x/file/k)"
    assert is_transient(error) == (cls in (GypsumTransientError, GypsumLockedError))


def test_connection_refused_becomes_a_transient_error():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(GypsumTransientError, match="network error") as info:
        _http.request("GET", f"http://127.0.0.1:{port}/list", policy=_http.GUARDED.new(total=1, connect=1))
    assert info.value.status is None


def test_one_pooled_session_per_process():
    assert _http.session() is _http.session()
    adapter = _http.session().get_adapter("http://127.0.0.1/")
    assert adapter.max_retries.total == 0  # retries are applied per call, by policy


def test_requests_is_imported_only_by_the_http_module():
    root = Path(gypsum_flows.__file__).parent
    pattern = re.compile(r"^\s*(import requests|from requests\b)", re.MULTILINE)
    offenders = [str(p.relative_to(root)) for p in root.rglob("*.py") if pattern.search(p.read_text())]
    assert offenders == ["_http.py"]
