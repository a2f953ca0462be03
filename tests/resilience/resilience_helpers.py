"""Helpers shared by the resilience tests: asset folders, half-done uploads, server-side inspection."""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from pathlib import Path

from testdata import write_files

from gypsum_flows import client


def asset_files(seed: int, count: int = 3, size: int = 2000) -> dict[str, bytes]:
    """``count`` files of distinct, reproducible content for asset number ``seed``."""
    return {
        f"sub{i % 2}/file{i}.bin": hashlib.sha256(f"{seed}-{i}".encode()).digest() * (size // 32 + i)
        for i in range(count)
    }


def start_partial_upload(server, project: str, asset: str, version: str, folder: Path, send: int = 1) -> dict:
    """Start an upload as the owner and send only the first ``send`` files: a killed upload's leftovers."""
    files = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
    init = client.start_upload(
        project,
        asset,
        version,
        files,
        directory=str(folder),
        url=server.url,
        token=server.tokens["owner"],
        deduplicate=False,
    )
    partial = {**init, "file_urls": init["file_urls"][:send]}
    client.upload_files(partial, directory=str(folder), url=server.url)
    return init


def age_lock(server, project: str, seconds: float) -> None:
    """Make ``project``'s lock look ``seconds`` old (the server serves the file's mtime as Last-Modified)."""
    path = server.root / project / "..LOCK"
    then = time.time() - seconds
    os.utime(path, (then, then))


def write_lock(server, project: str, asset: str, version: str, age: float) -> None:
    """A lock file as a crashed operation would leave it, ``age`` seconds old."""
    path = server.root / project / "..LOCK"
    path.write_text(json.dumps({"session_hash": "c3RhbGU=", "asset": asset, "version": version}))
    age_lock(server, project, age)


def stored_keys(server, prefix: str = "") -> dict[str, bytes]:
    """Every object of the server's bucket under ``prefix``, key -> bytes (read from its folder)."""
    root = server.root
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and str(p.relative_to(root)).startswith(prefix)
    }


def version_files(server, project: str, asset: str, version: str) -> dict[str, bytes]:
    """The user files of a stored version (relative path -> bytes), internal ``..`` files excluded."""
    base = f"{project}/{asset}/{version}/"
    return {k[len(base) :]: v for k, v in stored_keys(server, base).items() if "/.." not in "/" + k[len(base) :]}


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


#: Runs the ``gypsum-flows`` command line in a fresh interpreter.
CLI = [sys.executable, "-m", "gypsum_flows"]  # the gypsum-flows command


def cli_env(url: str, token: str | None, cache_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a ``gypsum-flows`` subprocess: server, token, a private cache (no cached token)."""
    env = {k: v for k, v in os.environ.items() if k not in ("GYPSUM_TOKEN", "GITHUB_TOKEN")}
    env.update(GYPSUM_REST_URL=url, GYPSUM_CACHE_DIR=str(cache_dir), **extra)
    if token:
        env["GYPSUM_TOKEN"] = token
    return env
