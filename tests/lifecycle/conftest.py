"""Fixtures of the lifecycle tests (assets, events, the storage block); the e2e ones live in test_lifecycle_e2e."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

# The flow tests' helpers (asset folders, events, artifacts) and the deployment tests' (a real Prefect server).
sys.path[:0] = [str(Path(__file__).parents[1] / "flows"), str(Path(__file__).parents[1] / "deployments")]


@pytest.fixture(scope="session", autouse=True)
def _offline_schema() -> None:
    """The packaged bioconductor/v1.json in the default cache: metadata checks need no internet."""
    from gypsum_flows.client.metadata import shipped_schema_path

    target = Path(os.environ["GYPSUM_CACHE_DIR"]) / "schemas" / "bioconductor" / "v1.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(shipped_schema_path(), target)
