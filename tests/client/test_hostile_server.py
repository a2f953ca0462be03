"""The client against a deliberately hostile gypsum server: nothing it sends may write outside the cache.

:class:`HostileServer` is a real HTTP server on 127.0.0.1 (the standard
library's) that answers ``/list`` and ``/file/{key}`` in gypsum's shape, from
crafted objects: manifests whose keys, links or ancestors climb out with
``..``, ``..latest`` documents naming ``../..``, listings with unsafe entries,
malformed manifests and summaries, and bodies far larger than their manifest
entries. Every test lists the whole temporary tree before and after the call:
nothing appears outside the cache or the clone's folder, no file that was
there changes, and the error is typed and names the key.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from gypsum_flows import _http, cache, client
from gypsum_flows._keepalive import ConnectionPool
from gypsum_flows.client import fetch
from gypsum_flows.errors import GypsumUnsafeResponseError, is_transient

P, A, V, V0 = "proj", "asset", "evil", "good"
USER_BYTES = b"the user's own file\n"
HOSTILE_BYTES = b"bytes chosen by the server\n"
GOOD = {"blah.txt": b"A\nB\nC\n", "foo/bar.txt": b"1 2 3\n"}
SUMMARY = {
    "upload_user_id": "someone",
    "upload_start": "2024-05-01T12:34:56.789Z",
    "upload_finish": "2024-05-01T12:35:00.001Z",
}
_MIB = 1 << 20


@dataclass
class Flood:
    """A body of ``total`` zero bytes, with a ``Content-Length`` if ``declared``, else chunked."""

    total: int
    declared: bool = True


class HostileServer:
    """A fake gypsum server serving crafted ``objects`` (key -> bytes or :class:`Flood`) and ``listings``.

    ``listings`` maps a ``/list`` prefix to the crafted JSON answer for it; other prefixes are listed
    from ``objects`` as gypsum does. ``sent`` counts the body bytes each key's answers got out.
    """

    def __init__(self) -> None:
        self.objects: dict[str, bytes | Flood] = {}
        self.listings: dict[str, object] = {}
        self.sent: dict[str, int] = {}
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        # A short poll interval: shutdown() waits for one, and every test starts and stops a server.
        threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def put_json(self, key: str, doc: object) -> None:
        self.objects[key] = json.dumps(doc).encode()

    def put_version(self, version: str, files: dict[str, bytes], manifest: object = None) -> None:
        """A version of ``files`` (summary, manifest and objects); ``manifest`` replaces the true one."""
        true = {path: {"size": len(body), "md5sum": hashlib.md5(body).hexdigest()} for path, body in files.items()}
        for path, body in files.items():
            self.objects[f"{P}/{A}/{version}/{path}"] = body
        self.put_json(f"{P}/{A}/{version}/..summary", SUMMARY)
        self.objects[f"{P}/{A}/{version}/..manifest"] = (
            manifest if isinstance(manifest, bytes) else json.dumps(true if manifest is None else manifest).encode()
        )

    def listing(self, prefix: str, recursive: bool) -> list[str]:
        keys = sorted(k for k in self.objects if k.startswith(prefix))
        if recursive:
            return keys
        rest = (k[len(prefix) :] for k in keys)
        return sorted({prefix + (r.split("/")[0] + "/" if "/" in r else r) for r in rest})

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 - the standard library's name
                parts = urlsplit(self.path)
                if parts.path == "/list":
                    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                    prefix = query.get("prefix", "")
                    answer = server.listings.get(prefix, server.listing(prefix, query.get("recursive") == "true"))
                    return self._send(200, json.dumps(answer).encode())
                key = unquote(parts.path[len("/file/") :])
                body = server.objects.get(key)
                if body is None:
                    return self._send(404, json.dumps({"status": "error", "reason": f"no file at '{key}'"}).encode())
                if isinstance(body, Flood):
                    return self._flood(key, body)
                return self._send(200, body)

            def _send(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json" if status >= 400 else "application/octet-stream")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _flood(self, key: str, flood: Flood) -> None:
                self.send_response(200)
                self.send_header(
                    "Content-Length" if flood.declared else "Transfer-Encoding",
                    str(flood.total) if flood.declared else "chunked",
                )
                self.end_headers()
                chunk, left = bytes(_MIB), flood.total
                try:
                    while left > 0:
                        piece = chunk[: min(left, _MIB)]
                        self.wfile.write(piece if flood.declared else b"%x\r\n%s\r\n" % (len(piece), piece))
                        server.sent[key] = server.sent.get(key, 0) + len(piece)
                        left -= len(piece)
                    if not flood.declared:
                        self.wfile.write(b"0\r\n\r\n")
                except OSError:  # the client hung up, as it should
                    self.close_connection = True

        return Handler


@pytest.fixture
def hostile() -> Iterator[HostileServer]:
    server = HostileServer()
    server.put_version(V0, GOOD)
    yield server
    server.close()


@dataclass
class Place:
    """A temporary tree: the cache (holding the good version), a clone folder, and a user's own folder."""

    root: Path

    @property
    def cache(self) -> str:
        return str(self.root / "cache")

    @property
    def dest(self) -> str:
        return str(self.root / "dest")

    def version(self, version: str = V) -> Path:
        return self.root / "cache" / "bucket" / P / A / version


@pytest.fixture
def place(tmp_path, hostile) -> Place:
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "evil.txt").write_bytes(USER_BYTES)
    (tmp_path / "dest").mkdir()
    (tmp_path / "dest" / "user.txt").write_bytes(USER_BYTES)
    out = Place(tmp_path)
    client.save_version(P, A, V0, cache_dir=out.cache, url=hostile.url)
    return out


def snapshot(root: Path) -> dict[str, str]:
    """Every folder, file and symlink under ``root`` (symlinks not followed): ``dir``, ``-> target`` or an MD5."""
    out = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            full = Path(folder, name)
            rel = str(full.relative_to(root))
            if full.is_symlink():
                out[rel] = f"-> {os.readlink(full)}"
            else:
                out[rel] = "dir" if full.is_dir() else hashlib.md5(full.read_bytes()).hexdigest()
    return out


def assert_refused(
    place: Place, call: Callable[[], object], *named: str, allowed: tuple[str, ...] = ()
) -> GypsumUnsafeResponseError:
    """``call`` raises a refusal naming ``named``; nothing that was in the tree changed; anything new is in
    the hostile version's own folder or the cache's status folder (or under ``allowed``); the version is
    not marked complete."""
    before = snapshot(place.root)
    with pytest.raises(GypsumUnsafeResponseError) as caught:
        call()
    after = snapshot(place.root)
    assert {k: v for k, v in after.items() if k in before} == before, "a file that was there changed"
    inside = (f"cache/bucket/{P}/{A}/{V}", "cache/status", *allowed)
    new = [k for k in after if k not in before and not k.startswith(inside)]
    assert new == [], f"written outside the hostile version's folder: {new}"
    assert (place.root / "outside" / "evil.txt").read_bytes() == USER_BYTES
    assert not os.path.exists(cache.complete_marker(place.cache, P, A, V))
    assert not is_transient(caught.value)
    for text in named:
        assert text in str(caught.value)
    return caught.value


def _entry(body: bytes = HOSTILE_BYTES, **extra: object) -> dict:
    return {"size": len(body), "md5sum": hashlib.md5(body).hexdigest(), **extra}


def _link(**target: object) -> dict:
    return _entry(GOOD["blah.txt"], link={"project": P, "asset": A, "version": V0, "path": "blah.txt", **target})


#: Hostile manifests: (name, manifest, text the refusal must contain). Keys that climb out are also served
#: as objects, so a client that trusted them would write the server's bytes there.
MANIFESTS = [
    ("dotdot-key", {"../../../../../outside/evil.txt": _entry()}, "../../../../../outside/evil.txt"),
    ("dotdot-key-into-clone-parent", {"../outside/evil.txt": _entry()}, "../outside/evil.txt"),
    ("key-into-another-version", {f"../{V0}/blah.txt": _entry()}, f"../{V0}/blah.txt"),
    ("absolute-key", {"/tmp/evil.txt": _entry()}, "/tmp/evil.txt"),
    ("dot-key", {".": _entry()}, "'.'"),
    ("backslash-key", {"x\\..\\..\\evil.txt": _entry()}, "x\\\\..\\\\..\\\\evil.txt"),
    ("link-path-climbs", {"x.txt": _link(path="../../../../../outside/evil.txt")}, "../../../../../outside/evil.txt"),
    ("link-names-climb", {"x.txt": _link(project="..", asset="..", version="..")}, "'..'"),
    ("link-version-dot", {"x.txt": _link(version=".")}, "version name"),
    (
        "ancestor-climbs",
        {"x.txt": _link(ancestor={"project": P, "asset": A, "version": "../../../..", "path": "outside/evil.txt"})},
        "ancestor",
    ),
    (
        "ancestor-path-absolute",
        {"x.txt": _link(ancestor={"project": P, "asset": A, "version": V0, "path": "/etc/passwd"})},
        "/etc/passwd",
    ),
    ("list", [], "list"),
    ("string-entry", {"x.txt": "big"}, "'x.txt'"),
    ("string-size", {"x.txt": {"size": "100", "md5sum": "0" * 32}}, "'100'"),
    ("negative-size", {"x.txt": {"size": -1, "md5sum": "0" * 32}}, "-1"),
    ("boolean-size", {"x.txt": {"size": True, "md5sum": "0" * 32}}, "True"),
    ("non-hex-md5", {"x.txt": {"size": 1, "md5sum": "z" * 32}}, "z" * 32),
    ("missing-md5", {"x.txt": {"size": 1}}, "md5sum"),
    ("link-not-object", {"x.txt": _entry(link=f"{P}/{A}/{V0}/blah.txt")}, "link target"),
    ("nested-too-deep", b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
]
OPERATIONS = {
    "save_version": lambda pl, url: client.save_version(P, A, V, cache_dir=pl.cache, url=url),
    "save_file": lambda pl, url: client.save_file(P, A, V, "x.txt", cache_dir=pl.cache, url=url),
    "resolve_links": lambda pl, url: client.resolve_links(P, A, V, cache_dir=pl.cache, url=url),
    "clone_version": lambda pl, url: client.clone_version(P, A, V, pl.dest, cache_dir=pl.cache, url=url),
    "clone_version(download=False)": lambda pl, url: client.clone_version(
        P, A, V, pl.dest, download=False, cache_dir=pl.cache, url=url
    ),
    "fetch_manifest": lambda pl, url: client.fetch_manifest(P, A, V, cache_dir=pl.cache, url=url),
    "fetch_manifest(cache_dir=False)": lambda pl, url: client.fetch_manifest(P, A, V, cache_dir=False, url=url),
}


@pytest.mark.parametrize("operation", list(OPERATIONS))
@pytest.mark.parametrize(("name", "manifest", "named"), MANIFESTS, ids=[m[0] for m in MANIFESTS])
def test_hostile_manifest_is_refused_before_anything_is_written(hostile, place, operation, name, manifest, named):
    files = {"x.txt": HOSTILE_BYTES}
    if isinstance(manifest, dict):
        files.update({key: HOSTILE_BYTES for key in manifest})
    hostile.put_version(V, files, manifest)
    error = assert_refused(
        place, lambda: OPERATIONS[operation](place, hostile.url), named, f"{P}/{A}/{V}/..manifest", hostile.url
    )
    assert error.key == f"{P}/{A}/{V}/..manifest"
    # A refused manifest never enters the cache.
    assert not (place.version() / "..manifest").exists()


def test_the_hostile_server_speaks_gypsum(hostile, place):
    """The same server, with honest answers, serves a version the client saves and clones."""
    hostile.put_version(V, {**GOOD, "x.txt": HOSTILE_BYTES})
    out = client.save_version(P, A, V, cache_dir=place.cache, url=hostile.url)
    assert Path(out, "foo", "bar.txt").read_bytes() == GOOD["foo/bar.txt"]
    client.clone_version(P, A, V, place.dest, cache_dir=place.cache, url=hostile.url)
    assert Path(place.dest, "x.txt").read_bytes() == HOSTILE_BYTES
    assert client.list_versions(P, A, url=hostile.url) == [V, V0]


def test_a_cached_manifest_that_fails_the_gate_is_fetched_again(hostile, place):
    """A manifest another client cached without checking it is not trusted either."""
    hostile.put_version(V, {"x.txt": HOSTILE_BYTES}, {"../../../../../outside/evil.txt": _entry()})
    place.version().mkdir(parents=True)
    (place.version() / "..manifest").write_bytes(hostile.objects[f"{P}/{A}/{V}/..manifest"])  # type: ignore[arg-type]
    assert_refused(
        place,
        lambda: client.save_version(P, A, V, cache_dir=place.cache, url=hostile.url),
        "../../../../../outside/evil.txt",
    )
    hostile.put_version(V, {"x.txt": HOSTILE_BYTES})  # the server mends its ways
    out = client.save_version(P, A, V, cache_dir=place.cache, url=hostile.url)
    assert Path(out, "x.txt").read_bytes() == HOSTILE_BYTES


LISTINGS = [
    ("climbs", [f"{P}/{A}/{V}/../../../../../outside/evil.txt"], "../../../../../outside/evil.txt"),
    ("into-another-version", [f"{P}/{A}/{V}/../{V0}/blah.txt"], f"../{V0}/blah.txt"),
    ("dot-component", [f"{P}/{A}/{V}/./x.txt"], "./x.txt"),
    ("folder-entry", [f"{P}/{A}/{V}/sub/"], "sub/"),
    ("not-a-string", [{"key": "x.txt"}], "must be a string"),
    ("not-a-list", {"files": []}, "JSON array"),
]


@pytest.mark.parametrize(("name", "listing", "named"), LISTINGS, ids=[c[0] for c in LISTINGS])
def test_unsafe_file_listing_is_refused(hostile, place, name, listing, named):
    hostile.put_version(V, {"x.txt": HOSTILE_BYTES})
    hostile.objects[f"{P}/{A}/{V}/../../../../../outside/evil.txt"] = HOSTILE_BYTES
    hostile.listings[f"{P}/{A}/{V}/"] = listing
    assert_refused(place, lambda: client.save_version(P, A, V, cache_dir=place.cache, url=hostile.url), named)
    with pytest.raises(GypsumUnsafeResponseError, match="listing"):
        client.list_files(P, A, V, url=hostile.url)


NAME_LISTINGS = [
    ("list_versions", f"{P}/{A}/", [f"{P}/{A}/./"], "'.'"),
    ("list_versions", f"{P}/{A}/", [f"{P}/{A}/a\\b/"], "a\\\\b"),
    ("list_versions", f"{P}/{A}/", [f"{P}/{A}/v1//"], "v1/"),
    ("list_assets", f"{P}/", [f"{P}/a\x00b/"], "NUL"),
    ("list_assets", f"{P}/", [7], "must be a string"),
    ("list_projects", "", {"projects": []}, "JSON array"),
]


@pytest.mark.parametrize(("function", "prefix", "listing", "named"), NAME_LISTINGS)
def test_unsafe_names_in_listings_are_refused(hostile, function, prefix, listing, named):
    hostile.listings[prefix] = listing
    args = {"list_versions": (P, A), "list_assets": (P,), "list_projects": ()}[function]
    with pytest.raises(GypsumUnsafeResponseError) as caught:
        getattr(client, function)(*args, url=hostile.url)
    assert named in str(caught.value) and hostile.url in str(caught.value)


def test_internal_folders_in_listings_are_still_left_out(hostile):
    hostile.listings[f"{P}/{A}/"] = [f"{P}/{A}/..latest", f"{P}/{A}/..hidden/", f"{P}/{A}/v1/"]
    assert client.list_versions(P, A, url=hostile.url) == ["v1"]


LATEST = [("../..", "../.."), (".", "'.'"), ("", "empty"), (3, "string"), ("v1/../../x", "v1/../../x")]


@pytest.mark.parametrize(("version", "named"), LATEST)
def test_unsafe_latest_is_refused(hostile, place, version, named):
    hostile.put_json(f"{P}/{A}/..latest", {"version": version})
    error = assert_refused(place, lambda: client.fetch_latest(P, A, url=hostile.url), named, f"{P}/{A}/..latest")
    assert error.url == hostile.url


def test_latest_that_is_not_an_object_is_refused(hostile, place):
    hostile.put_json(f"{P}/{A}/..latest", ["v1"])
    assert_refused(place, lambda: client.fetch_latest(P, A, url=hostile.url), "JSON object", f"{P}/{A}/..latest")


LINKS_DOCUMENTS = [
    (
        "target-climbs",
        {"bar.txt": {"project": "..", "asset": "..", "version": "..", "path": "outside/evil.txt"}},
        "'..'",
    ),
    (
        "ancestor-climbs",
        {
            "bar.txt": {
                "project": P,
                "asset": A,
                "version": V0,
                "path": "blah.txt",
                "ancestor": {"project": P, "asset": A, "version": V0, "path": "../../../../../outside/evil.txt"},
            }
        },
        "ancestor",
    ),
    ("name-with-slash", {"a/bar.txt": {"project": P, "asset": A, "version": V0, "path": "blah.txt"}}, "a/bar.txt"),
    ("not-an-object", ["bar.txt"], "JSON object"),
]


@pytest.mark.parametrize(("name", "document", "named"), LINKS_DOCUMENTS, ids=[c[0] for c in LINKS_DOCUMENTS])
def test_unsafe_links_document_is_refused_and_never_cached(hostile, place, name, document, named):
    """``..links`` files are read by gypsum_client and the R client from the shared cache: they must be safe."""
    hostile.put_version(V, {"x.txt": HOSTILE_BYTES})
    hostile.put_json(f"{P}/{A}/{V}/foo/..links", document)
    assert_refused(
        place,
        lambda: client.save_version(P, A, V, cache_dir=place.cache, url=hostile.url),
        named,
        f"{P}/{A}/{V}/foo/..links",
    )
    assert_refused(
        place, lambda: client.save_file(P, A, V, "foo/..links", cache_dir=place.cache, url=hostile.url), named
    )
    assert not (place.version() / "foo" / "..links").exists()


SUMMARIES = [
    ("list", [], "JSON object"),
    ("start-not-a-string", {**SUMMARY, "upload_start": 5}, "upload_start"),
    ("start-not-a-time", {**SUMMARY, "upload_start": "yesterday"}, "yesterday"),
    ("probation-not-boolean", {**SUMMARY, "on_probation": "no"}, "on_probation"),
    ("user-not-a-string", {**SUMMARY, "upload_user_id": ["x"]}, "upload_user_id"),
]


@pytest.mark.parametrize("cached", [True, False], ids=["cached", "uncached"])
@pytest.mark.parametrize(("name", "summary", "named"), SUMMARIES, ids=[c[0] for c in SUMMARIES])
def test_malformed_summary_is_refused(hostile, place, name, summary, named, cached):
    hostile.put_version(V, {"x.txt": HOSTILE_BYTES})
    hostile.put_json(f"{P}/{A}/{V}/..summary", summary)
    cache_dir = place.cache if cached else False
    assert_refused(
        place,
        lambda: client.fetch_summary(P, A, V, cache_dir=cache_dir, url=hostile.url),
        named,
        f"{P}/{A}/{V}/..summary",
    )
    assert not (place.version() / "..summary").exists()


FLOODS = [
    ("small-declared", 100, Flood(200 * _MIB)),
    ("small-chunked", 100, Flood(200 * _MIB, declared=False)),
    ("large-declared", 2 * _MIB, Flood(200 * _MIB)),
    ("large-chunked", 2 * _MIB, Flood(200 * _MIB, declared=False)),
]


@pytest.mark.parametrize("operation", ["save_version", "save_file"])
@pytest.mark.parametrize(("name", "size", "flood"), FLOODS, ids=[c[0] for c in FLOODS])
def test_oversized_body_is_refused_without_reading_it(hostile, place, operation, name, size, flood):
    """A 200 MiB answer for a file the manifest says is small (kept-alive path) or 2 MiB (streamed path)."""
    hostile.put_version(V, {"x.txt": HOSTILE_BYTES}, {"x.txt": {"size": size, "md5sum": "0" * 32}})
    hostile.objects[f"{P}/{A}/{V}/x.txt"] = flood
    assert_refused(place, lambda: OPERATIONS[operation](place, hostile.url), f"{P}/{A}/{V}/x.txt", str(size))
    # The client hung up long before the end: what got out is at most what the sockets' buffers hold.
    assert hostile.sent.get(f"{P}/{A}/{V}/x.txt", 0) < 64 * _MIB


@pytest.mark.parametrize("declared", [True, False], ids=["declared", "chunked"])
@pytest.mark.parametrize("size", [100, 2 * _MIB], ids=["small", "large"])
def test_no_more_than_size_plus_one_bytes_are_read(hostile, tmp_path, size, declared):
    """Counted where the bytes arrive: the kept-alive whole read and the streamed download."""
    hostile.objects["k"] = Flood(8 * _MIB, declared=declared)
    answer = ConnectionPool().exchange(("GET", f"{hostile.url}/file/k", {}, None), (5.0, 5.0), limit=size)
    assert len(answer.body) == size + 1
    with pytest.raises(GypsumUnsafeResponseError, match=f"longer than the {size} bytes"):
        _http.request("GET", f"{hostile.url}/file/k", check_body=False, limit=size)
    arrived: list[int] = []
    with pytest.raises(GypsumUnsafeResponseError, match="'k'"):
        fetch.download(
            f"{hostile.url}/file/k", str(tmp_path / "k"), key="k", size=size, md5="0" * 32, on_bytes=arrived.append
        )
    assert sum(arrived) <= size + 1
    assert os.listdir(tmp_path) == []  # no temporary file left


def test_clone_never_replaces_a_file_it_did_not_create(hostile, place):
    Path(place.dest, "blah.txt").write_bytes(USER_BYTES)
    before = snapshot(place.root)
    with pytest.raises(FileExistsError, match="did not create"):
        client.clone_version(P, A, V0, place.dest, cache_dir=place.cache, url=hostile.url)
    assert snapshot(place.root) == before  # not even the other files were cloned
    assert Path(place.dest, "blah.txt").read_bytes() == USER_BYTES


def test_clone_does_not_follow_a_symlinked_folder_outside(hostile, place):
    os.symlink(place.root / "outside", Path(place.dest, "foo"))
    before = snapshot(place.root)
    with pytest.raises(FileExistsError, match="leads outside"):
        client.clone_version(P, A, V0, place.dest, cache_dir=place.cache, url=hostile.url)
    assert snapshot(place.root) == before
    assert os.listdir(place.root / "outside") == ["evil.txt"]


def test_clone_replaces_its_own_links_from_an_earlier_clone(hostile, place):
    hostile.put_version(V, {"blah.txt": HOSTILE_BYTES})
    client.clone_version(P, A, V0, place.dest, cache_dir=place.cache, url=hostile.url)
    client.clone_version(P, A, V, place.dest, cache_dir=place.cache, url=hostile.url)
    assert Path(place.dest, "blah.txt").read_bytes() == HOSTILE_BYTES
    assert Path(place.dest, "foo", "bar.txt").read_bytes() == GOOD["foo/bar.txt"]  # V0's, left as it was
    assert Path(place.dest, "user.txt").read_bytes() == USER_BYTES


@pytest.mark.parametrize("version", ["..", "../../outside", ".", "a/b", ""])
def test_unsafe_names_from_the_caller_never_name_cache_folders(hostile, place, version):
    """A version name handed on from elsewhere (a spec, another server) cannot lead out of the cache either."""
    before = snapshot(place.root)
    for call in (
        lambda: client.save_version(P, A, version, cache_dir=place.cache, url=hostile.url),
        lambda: client.save_file(P, A, version, "x.txt", cache_dir=place.cache, url=hostile.url),
        lambda: client.clone_version(P, A, version, place.dest, cache_dir=place.cache, url=hostile.url),
    ):
        with pytest.raises(ValueError, match="version name"):
            call()
    assert snapshot(place.root) == before


@pytest.mark.parametrize("path", ["../../../../../outside/evil.txt", "a/./b", "/etc/passwd", "sub/"])
def test_unsafe_paths_from_the_caller_are_refused(hostile, place, path):
    hostile.put_version(V, {"x.txt": HOSTILE_BYTES})
    hostile.objects[f"{P}/{A}/{V}/{path}"] = HOSTILE_BYTES
    before = snapshot(place.root)
    with pytest.raises(ValueError, match="not the path of a file"):
        client.save_file(P, A, V, path, cache_dir=place.cache, url=hostile.url)
    assert snapshot(place.root) == before


PROJECT_DOCUMENTS = [
    ("fetch_usage", "..usage", {"total": "12"}, "'12'"),
    ("fetch_usage", "..usage", [12], "JSON object"),
    ("fetch_permissions", "..permissions", {"owners": "me"}, "owners"),
    ("fetch_permissions", "..permissions", {"owners": [], "uploaders": ["someone"]}, "uploaders"),
    ("fetch_permissions", "..permissions", {"owners": [], "uploaders": [{"id": "x", "until": 3}]}, "until"),
]


@pytest.mark.parametrize(("function", "name", "document", "named"), PROJECT_DOCUMENTS)
def test_malformed_project_documents_are_typed_errors(hostile, function, name, document, named):
    hostile.put_json(f"{P}/{name}", document)
    with pytest.raises(GypsumUnsafeResponseError) as caught:
        getattr(client, function)(P, url=hostile.url)
    assert named in str(caught.value) and f"{P}/{name}" in str(caught.value)
