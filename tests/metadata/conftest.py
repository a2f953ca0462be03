"""Fixtures for the metadata tests: a gypsum server with a metadata folder, and a static file server."""

from __future__ import annotations

import http.server
import secrets
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from metadata_helpers import MetadataServer, StaticServer


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
