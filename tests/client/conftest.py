"""Fixtures for the client tests: a private cache, and test-R/basic v1-v3 built through our client."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from client_helpers import BASIC_FILES
from testdata import write_files

from gypsum_flows import client


@dataclass
class Basic:
    """A project laid out like test-R/basic: v1 holds the files, v2 and v3 are deduplicated links."""

    server: object
    project: str
    asset: str = "basic"

    @property
    def url(self) -> str:
        return self.server.url  # type: ignore[attr-defined]


@pytest.fixture
def cache(tmp_path) -> Path:
    return tmp_path / "cache"


@pytest.fixture(scope="session")
def basic(gypsum_server, tmp_path_factory) -> Basic:
    """test-R/basic v1-v3 (under a unique project name) on the shared server."""
    project = "test-R-client-basic"
    owner = gypsum_server.tokens["owner"]
    client.create_project(
        project, owners=[gypsum_server.logins["owner"]], url=gypsum_server.url, token=gypsum_server.tokens["admin"]
    )
    source = write_files(tmp_path_factory.mktemp("basic-src"), BASIC_FILES)
    work_cache = str(tmp_path_factory.mktemp("basic-cache"))
    for version in ("v1", "v2", "v3"):
        client.upload_directory(
            str(source), project, "basic", version, url=gypsum_server.url, token=owner, cache_dir=work_cache
        )
    return Basic(gypsum_server, project)


@pytest.fixture
def project(gypsum_server, unique_name) -> str:
    """A fresh project owned by the ``owner`` role, with ``uploader`` (untrusted) and ``trusted`` uploaders."""
    name = unique_name("c")
    logins = gypsum_server.logins
    client.create_project(
        name,
        owners=[logins["owner"]],
        uploaders=[{"id": logins["uploader"]}, {"id": logins["trusted"], "trusted": True}],
        url=gypsum_server.url,
        token=gypsum_server.tokens["admin"],
    )
    return name
