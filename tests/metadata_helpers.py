"""Helpers of the metadata and index tests: documents, server actions over real HTTP, table snapshots, and
the fixtures of a server with a metadata folder and of a static file server (their conftests import them)."""

from __future__ import annotations

import hashlib
import http.server
import json
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from testdata import REFERENCE_METADATA as REFERENCE_DOC

from gypsum_flows._sqlite import connect


def bioc_doc(title: str, description: str = "A dataset.", **extra: Any) -> dict[str, Any]:
    """A valid _bioconductor.json document."""
    return {**REFERENCE_DOC, "title": title, "description": description, **extra}


@dataclass
class MetadataServer:
    """A live local gypsum server with a metadata folder, and the gypsum actions the tests need."""

    url: str
    tokens: dict[str, str]
    metadata_dir: Path
    handle: Any = field(repr=False)

    def _call(self, method: str, path: str, role: str = "admin", **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.tokens[role]}"}
        response = requests.request(method, self.url + path, headers=headers, timeout=30, **kwargs)
        assert response.status_code == 200, (method, path, response.status_code, response.text)
        return response

    def create_project(self, project: str) -> None:
        self._call("POST", f"/create/{project}", json={"permissions": {"owners": ["owner-user"], "uploaders": []}})

    def upload(
        self,
        project: str,
        asset: str,
        version: str,
        files: dict[str, Any],
        *,
        role: str = "owner",
        links: dict[str, dict[str, str]] | None = None,
        probation: bool = False,
    ) -> None:
        """Upload ``files`` ({path: JSON-able or bytes}) and ``links`` ({path: target}) as one version."""
        blobs = {p: v if isinstance(v, bytes) else json.dumps(v).encode() for p, v in files.items()}
        body = {
            "files": [
                {"type": "simple", "path": p, "md5sum": hashlib.md5(b).hexdigest(), "size": len(b)}
                for p, b in blobs.items()
            ]
            + [{"type": "link", "path": p, "link": t} for p, t in (links or {}).items()],
            "on_probation": probation,
        }
        start = self._call("POST", f"/upload/start/{project}/{asset}/{version}", role, json=body).json()
        session = {"Authorization": f"Bearer {start['session_token']}"}
        for entry in start["file_urls"]:
            signed = requests.post(self.url + entry["url"], headers=session, timeout=30).json()
            put_url = signed["url"] if signed["url"].startswith("http") else self.url + signed["url"]
            put = requests.put(
                put_url, data=blobs[entry["path"]], timeout=30, headers={"Content-MD5": signed["md5sum_base64"]}
            )
            assert put.status_code == 200, put.text
        done = requests.post(self.url + start["complete_url"], headers=session, timeout=30)
        assert done.status_code == 200, done.text

    def approve(self, project: str, asset: str, version: str) -> None:
        self._call("POST", f"/probation/approve/{project}/{asset}/{version}")

    def remove(self, *names: str) -> None:
        self._call("DELETE", "/remove/" + "/".join(names))


@dataclass
class StaticServer:
    """A plain HTTP file server on 127.0.0.1 that counts GETs per path."""

    url: str
    root: Path
    hits: dict[str, int]


def table_snapshot(path: Path) -> dict[str, Any]:
    """The content of an index by natural keys (IDs differ between builds)."""
    conn = connect(path, read_only=True)
    try:
        versions = sorted(conn.execute("SELECT project, asset, version, user, time, latest FROM versions"))
        paths = sorted(
            conn.execute("SELECT project, asset, version, path, json(metadata) FROM paths JOIN versions USING (vid)")
        )
        links = sorted(
            conn.execute(
                "SELECT project, asset, version, path, field, token FROM links JOIN paths USING (pid) "
                "JOIN versions USING (vid) JOIN fields USING (fid) JOIN tokens USING (tid)"
            )
        )
        user_version = conn.execute("PRAGMA user_version").fetchone()[0]
    finally:
        conn.close()
    return {"versions": versions, "paths": paths, "links": links, "user_version": user_version}


@pytest.fixture
def metadata_server(tmp_path: Path) -> Iterator[MetadataServer]:
    """A server of this test's own, serving ``metadata_dir`` under ``/metadata/``."""
    from gypsum_flows.server import serve_in_thread

    # Our own users file: importing tests/conftest.py a second time would reset the session's environment.
    tokens = {"admin": secrets.token_urlsafe(16), "owner": secrets.token_urlsafe(16)}
    users = tmp_path / "users.yaml"
    users.write_text(
        yaml.safe_dump(
            {
                "admins": ["meta-admin"],
                "users": [
                    {"login": "meta-admin", "token": tokens["admin"], "orgs": []},
                    {"login": "owner-user", "token": tokens["owner"], "orgs": []},
                ],
            }
        )
    )
    metadata_dir = tmp_path / "metadata"
    metadata_dir.mkdir()
    handle = serve_in_thread(tmp_path / "root", users, "127.0.0.1", 0, metadata_dir=metadata_dir)
    yield MetadataServer(handle.url, tokens, metadata_dir, handle)
    handle.stop()


@pytest.fixture
def static_server(tmp_path: Path) -> Iterator[StaticServer]:
    root = tmp_path / "static"
    root.mkdir()
    hits: dict[str, int] = {}

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(root), **kwargs)

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            hits[self.path] = hits.get(self.path, 0) + 1
            super().do_GET()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield StaticServer(f"http://127.0.0.1:{server.server_address[1]}/", root, hits)
    server.shutdown()
    server.server_close()
