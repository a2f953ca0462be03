"""Fixtures for the task tests: a real Prefect, credentials per role, published versions.

Versions are set up with ``gypsum_flows.client`` directly (fast, no flow run);
the tasks under test always run inside a ``@flow`` on the session's Prefect.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from testdata import write_files

from gypsum_flows import client
from gypsum_flows.blocks import GypsumCredentials


@pytest.fixture(autouse=True)
def _prefect(prefect_harness) -> None:
    """Every task test runs on the session's real Prefect server."""


@pytest.fixture
def cache_dir(tmp_path) -> Path:
    """A gypsum cache folder of this test's own."""
    return tmp_path / "gypsum-cache"


@pytest.fixture
def credentials(cache_dir) -> Callable[..., GypsumCredentials]:
    """``credentials(server, "owner")``: a block for ``server`` with that role's token and this test's cache."""

    def make(server, role: str | None = None) -> GypsumCredentials:
        token = server.tokens[role] if role else None
        return GypsumCredentials(url=server.url, token=token, cache_dir=str(cache_dir))

    return make


@pytest.fixture
def publish(tmp_path) -> Callable[..., Path]:
    """``publish(server, project, asset, version, files, probation=False)``: upload a version as its owner.

    A missing project is created first, owned by the ``owner`` role. Returns
    the uploaded folder.
    """

    def make(server, project: str, asset: str, version: str, files: dict[str, bytes], probation: bool = False):
        if project not in client.list_projects(url=server.url):
            admin = server.tokens["admin"]
            client.create_project(project, owners=[server.logins["owner"]], url=server.url, token=admin)
        folder = write_files(Path(tempfile.mkdtemp(dir=tmp_path, prefix=f"{asset}-{version}-")), files)
        client.upload_directory(
            str(folder), project, asset, version, probation=probation, url=server.url, token=server.tokens["owner"]
        )
        return folder

    return make
