"""Fixtures of the server contract tests: an API wrapper on the shared server and a ready project."""

from __future__ import annotations

import pytest
from server_helpers import Api


@pytest.fixture(scope="session")
def api(gypsum_server) -> Api:
    return Api(gypsum_server)


@pytest.fixture
def fresh_api(fresh_gypsum_server) -> Api:
    return Api(fresh_gypsum_server)


@pytest.fixture
def project(api, unique_name) -> str:
    """A project owned by ``owner`` with an untrusted uploader, a trusted one and the org ``test-org``."""
    name = unique_name("proj")
    logins = api.server.logins
    perms = {
        "owners": [logins["owner"]],
        "uploaders": [{"id": logins["uploader"]}, {"id": logins["trusted"], "trusted": True}, {"id": "test-org"}],
    }
    res = api.create(name, permissions=perms)
    assert res.status_code == 200, res.text
    return name
