"""Helpers for the server contract tests: a thin HTTP wrapper, whole-upload shortcuts, disk snapshots."""

from __future__ import annotations

import base64
import hashlib
import http.client
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests


def md5_hex(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def md5_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``root`` (and its state folder) with size and mtime, to prove nothing changed."""
    out = {}
    for base in (root, root.with_name(root.name + ".state")):
        for dirpath, _, names in os.walk(base):
            for name in names:
                path = Path(dirpath) / name
                stat = path.stat()
                out[str(path)] = (stat.st_size, stat.st_mtime_ns)
    return out


def file_entries(files: dict[str, bytes], kind: str = "simple") -> list[dict[str, Any]]:
    return [{"type": kind, "path": p, "md5sum": md5_hex(d), "size": len(d)} for p, d in files.items()]


@dataclass
class Api:
    """Requests against one server, authenticated by role name or raw token."""

    server: Any

    @property
    def url(self) -> str:
        return self.server.url

    def headers(self, role: str | None = None, token: str | None = None) -> dict[str, str]:
        if token is not None:
            return {"Authorization": f"Bearer {token}"}
        return self.server.auth(role) if role else {}

    def call(
        self, method: str, path: str, role: str | None = None, token: str | None = None, **kw
    ) -> requests.Response:
        headers = {**self.headers(role, token), **kw.pop("headers", {})}
        return requests.request(method, self.url + path, headers=headers, timeout=30, allow_redirects=False, **kw)

    def create(self, project: str, role: str = "admin", **body) -> requests.Response:
        return self.call("POST", f"/create/{project}", role, json=body)

    def start(self, project: str, asset: str, version: str, files: list[dict], role: str = "owner", **extra):
        body = {"files": files, **extra}
        return self.call("POST", f"/upload/start/{project}/{asset}/{version}", role, json=body)

    def presign(self, init: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
        res = self.call("POST", item["url"], token=init["session_token"])
        assert res.status_code == 200, res.text
        return res.json()

    def put_all(self, init: dict[str, Any], files: dict[str, bytes]) -> None:
        for item in init["file_urls"]:
            signed = self.presign(init, item)
            headers = {"Content-MD5": signed["md5sum_base64"]}
            res = requests.put(signed["url"], data=files[item["path"]], headers=headers)
            assert res.status_code == 200, res.text

    def finish(self, init: dict[str, Any], what: str = "complete") -> requests.Response:
        return self.call("POST", init[f"{what}_url"], token=init["session_token"])

    def upload(
        self,
        project: str,
        asset: str,
        version: str,
        files: dict[str, bytes],
        role: str = "owner",
        kind: str = "simple",
        links: list[dict] | None = None,
        **extra,
    ) -> dict[str, Any]:
        """A whole upload that must succeed; returns the start response."""
        res = self.start(project, asset, version, file_entries(files, kind) + (links or []), role, **extra)
        assert res.status_code == 200, res.text
        init = res.json()
        self.put_all(init, files)
        done = self.finish(init)
        assert done.status_code == 200, done.text
        return init

    def json(self, key: str) -> Any:
        res = self.call("GET", "/file/" + requests.utils.quote(key, safe=""))
        assert res.status_code == 200, (key, res.text)
        return res.json()

    def listing(self, prefix: str | None = None, recursive: bool = False) -> list[str]:
        params = {"recursive": "true" if recursive else "false"}
        if prefix is not None:
            params["prefix"] = prefix
        res = self.call("GET", "/list", params=params)
        assert res.status_code == 200
        return res.json()


def assert_error(res: requests.Response, status: int, reason: str) -> None:
    """The reference error shape with this status and reason (``reason`` may be a prefix ending in '...')."""
    assert res.status_code == status, (res.status_code, res.text)
    body = res.json()
    assert body["status"] == "error"
    if reason.endswith("..."):
        assert body["reason"].startswith(reason[:-3]), body["reason"]
    else:
        assert body["reason"] == reason


def raw_request(url: str, method: str, path: str, headers: dict | None = None) -> http.client.HTTPResponse:
    """Send ``path`` byte for byte (no client-side normalisation of '..', '//' or '+')."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    conn.request(method, path, headers=headers or {})
    res = conn.getresponse()
    res.body = res.read()
    conn.close()
    return res
