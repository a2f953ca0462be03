"""Helpers of the resilience tests (and the recovery tests): asset folders, batches, what the server holds."""

from __future__ import annotations

import hashlib
from pathlib import Path

from testdata import write_files

from gypsum_flows import client


def asset_files(seed: int, count: int = 3, size: int = 2000) -> dict[str, bytes]:
    """``count`` files of distinct, reproducible content for asset number ``seed``."""
    return {
        f"sub{i % 2}/file{i}.bin": hashlib.sha256(f"{seed}-{i}".encode()).digest() * (size // 32 + i)
        for i in range(count)
    }


def write_batch(folder: Path, projects: list[str], per_project: int) -> Path:
    """A batch spec publishing ``per_project`` assets (3 files each) to each of ``projects``; returns its path."""
    lines = ["defaults: {metadata: null}", f"concurrency: {len(projects)}", "assets:"]
    for p, project in enumerate(projects):
        for a in range(per_project):
            seed = p * per_project + a
            write_files(folder / "data" / f"asset{seed}", asset_files(seed))
            lines.append(f"  - {{project: {project}, asset: asset{seed}, version: v1, directory: data/asset{seed}}}")
    spec = folder / "batch.yaml"
    spec.write_text("\n".join(lines) + "\n")
    return spec


def server_manifests(server, projects: list[str]) -> dict[str, dict]:
    """``asset -> manifest`` of every version on ``server`` in ``projects``, keyed without the project name."""
    out = {}
    for i, project in enumerate(projects):
        for asset in client.list_assets(project, url=server.url):
            for version in client.list_versions(project, asset, url=server.url):
                manifest = client.fetch_manifest(project, asset, version, url=server.url, cache_dir=False)
                out[f"{i}/{asset}/{version}"] = manifest
    return out


def assert_clean(server, projects: list[str]) -> None:
    """No project locked and every version complete (summary with ``upload_finish``)."""
    from gypsum_flows.recover import read_lock, version_state

    for project in projects:
        assert read_lock(project, url=server.url) is None, f"{project} is still locked"
        for asset in client.list_assets(project, url=server.url):
            for version in client.list_versions(project, asset, url=server.url):
                assert version_state(project, asset, version, url=server.url) == "complete", (project, asset, version)
