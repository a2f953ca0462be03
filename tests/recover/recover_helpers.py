"""Helpers of the recovery tests: half-done uploads, crashed locks, what the server stores, the command line."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from flows_helpers import age_lock

from gypsum_flows import client


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


#: Runs the ``gypsum-flows`` command line in a fresh interpreter.
CLI = [sys.executable, "-m", "gypsum_flows"]  # the gypsum-flows command


def cli_env(url: str, token: str | None, cache_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a ``gypsum-flows`` subprocess: server, token, a private cache (no cached token)."""
    env = {k: v for k, v in os.environ.items() if k not in ("GYPSUM_TOKEN", "GITHUB_TOKEN")}
    env.update(GYPSUM_REST_URL=url, GYPSUM_CACHE_DIR=str(cache_dir), **extra)
    if token:
        env["GYPSUM_TOKEN"] = token
    return env
