"""Fixtures for the resilience tests: a project owned by the ``owner`` role."""

from __future__ import annotations

import pytest

from gypsum_flows import client


@pytest.fixture
def make_project(unique_name):
    """``make_project(server)`` -> a new project on ``server`` owned by the ``owner`` role."""

    def make(server, prefix: str = "r") -> str:
        name = unique_name(prefix)
        client.create_project(name, owners=[server.logins["owner"]], url=server.url, token=server.tokens["admin"])
        return name

    return make
