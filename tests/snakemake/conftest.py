"""Fixtures for the Snakemake plugin tests: a published copy of the zeisel-brain example on the local server.

Snakemake 9 needs Python 3.11+; on older interpreters (where the ``test`` extra does not install it)
this folder is skipped as a whole.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

pytest.importorskip("snakemake", reason="Snakemake 9 needs Python 3.11 or later")

# Snakemake discovers plugins by scanning sys.path, which a default editable install does not extend
# (README, "Snakemake"); `python -m pytest` has the repository there already, a bare `pytest` may not.
REPOSITORY = str(Path(__file__).resolve().parents[2])
if REPOSITORY not in (str(Path(p or ".").resolve()) for p in sys.path):
    sys.path.append(REPOSITORY)

from snakemake_helpers import FIRST, LINKED, Published  # noqa: E402

from gypsum_flows import client  # noqa: E402

EXAMPLE_DATA = Path(__file__).parents[2] / "gypsum_flows" / "examples" / "data" / "zeisel-brain"


@pytest.fixture(autouse=True)
def _restore_gypsum_token(monkeypatch):
    """The provider exports a configured token as GYPSUM_TOKEN for spawned jobs; keep it out of other tests."""
    monkeypatch.setenv("GYPSUM_TOKEN", "placeholder")
    monkeypatch.delenv("GYPSUM_TOKEN")


@pytest.fixture(scope="session")
def published(gypsum_server, tmp_path_factory) -> Published:
    """zeisel-brain as FIRST (files) and LINKED (the same files, deduplicated into links to FIRST)."""
    project = "sm-scrnaseq"
    client.create_project(
        project,
        owners=[gypsum_server.logins["owner"]],
        uploaders=[{"id": gypsum_server.logins["uploader"]}],
        url=gypsum_server.url,
        token=gypsum_server.tokens["admin"],
    )
    source = tmp_path_factory.mktemp("zeisel-src")
    for name in ("counts.csv", "coldata.csv"):
        shutil.copy(EXAMPLE_DATA / name, source / name)
    work_cache = str(tmp_path_factory.mktemp("publish-cache"))
    for version in (FIRST, LINKED):
        client.upload_directory(
            str(source),
            project,
            "zeisel-brain",
            version,
            url=gypsum_server.url,
            token=gypsum_server.tokens["owner"],
            cache_dir=work_cache,
        )
    return Published(gypsum_server, project, source)


@pytest.fixture
def settings_for(published, tmp_path):
    """Provider settings against the local server, with a private cache: ``settings_for(role, **more)``."""
    from snakemake_storage_plugin_gypsum import StorageProviderSettings

    def make(role: str = "owner", **more) -> StorageProviderSettings:
        return StorageProviderSettings(
            url=published.url, cache_dir=str(tmp_path / "gypsum-cache"), token=published.server.tokens[role], **more
        )

    return make
