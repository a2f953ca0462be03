"""Fixtures for the flow tests: a real Prefect, an offline metadata schema, asset folders."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from flows_helpers import REFERENCE_METADATA, write_asset


@pytest.fixture(autouse=True)
def _prefect(prefect_harness) -> None:
    """Every flow test runs on the session's real Prefect server."""


@pytest.fixture(scope="session", autouse=True)
def _offline_schema() -> None:
    """Put the packaged bioconductor/v1.json in the default cache, so no test needs the internet."""
    from gypsum_flows.client.metadata import shipped_schema_path

    target = Path(os.environ["GYPSUM_CACHE_DIR"]) / "schemas" / "bioconductor" / "v1.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(shipped_schema_path(), target)


@pytest.fixture
def asset_folder(tmp_path) -> Callable[..., Path]:
    """``asset_folder("name", {"a.txt": "x"}, metadata=...)`` -> a folder under this test's tmp_path."""

    def make(name: str, files: dict[str, bytes | str], metadata: dict | None = REFERENCE_METADATA) -> Path:
        return write_asset(tmp_path / name, files, metadata)

    return make
