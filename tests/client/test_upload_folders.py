"""Odd things in an upload folder: FIFOs, sockets, dangling and looping symlinks, folder symlinks, files that change."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from client_helpers import BASIC_FILES
from faultproxy import Fault, FaultProxy
from testdata import write_files

from gypsum_flows import client
from gypsum_flows.client._util import fetch_json
from gypsum_flows.client.upload import md5_file
from gypsum_flows.errors import (
    GypsumFileChangedError,
    GypsumNotFoundError,
    is_transient,
)

#: Seconds within which a refusal must come (a FIFO opened for reading would block for ever).
PROMPT = 30


def _promptly(call, *args, **kwargs):
    """Run ``call`` on a daemon thread; its result, or its exception raised here, within PROMPT seconds."""
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["value"] = call(*args, **kwargs)
        except Exception as exc:  # handed to the test thread
            outcome["error"] = exc

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(PROMPT)
    assert not worker.is_alive(), f"{call.__name__} still running after {PROMPT} s"
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def _assert_nothing_left(project: str, asset: str, url: str) -> None:
    """No version of ``asset`` and no lock on ``project``."""
    assert client.list_versions(project, asset, url=url) == []
    with pytest.raises(GypsumNotFoundError):
        fetch_json(f"{project}/..LOCK", url)


def test_special_files_are_refused_before_the_upload_starts(project, gypsum_server, tmp_path):
    url, owner = gypsum_server.url, gypsum_server.tokens["owner"]
    src = write_files(tmp_path / "src", {"ok.txt": b"fine", "sub/ok2.txt": b"fine too"})
    os.mkfifo(src / "sub" / "pipe")
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(src / "sock"))
        (src / "gone").symlink_to(tmp_path / "missing.txt")
        (src / "loop").symlink_to(src / "loop")
        (src / "to-pipe").symlink_to(src / "sub" / "pipe")
        starts = sum(1 for method, path in gypsum_server.request_log if path.startswith("/upload/start/"))
        with pytest.raises(ValueError) as caught:
            _promptly(client.upload_directory, str(src), project, "a", "v1", url=url, token=owner)
    message = str(caught.value)
    for expected in (
        "'sub/pipe' is a FIFO",
        "'sock' is a socket",
        "'gone' is a dangling symlink",
        "'loop' is a symlink loop",
        "'to-pipe' is a symlink to a FIFO",
    ):
        assert expected in message
    assert "ok.txt" not in message
    assert sum(1 for method, path in gypsum_server.request_log if path.startswith("/upload/start/")) == starts
    _assert_nothing_left(project, "a", url)


def test_a_fifo_swapped_in_after_listing_never_blocks(project, gypsum_server, tmp_path):
    url, owner = gypsum_server.url, gypsum_server.tokens["owner"]
    src = write_files(tmp_path / "src", {"data.txt": b"regular at first"})
    init = client.start_upload(project, "a", "v1", ["data.txt"], directory=str(src), url=url, token=owner)
    os.unlink(src / "data.txt")
    os.mkfifo(src / "data.txt")
    with pytest.raises(ValueError, match="'data.txt': it is a FIFO"):
        _promptly(client.upload_files, init, directory=str(src), url=url)
    client.abort_upload(init, url=url)
    with pytest.raises(ValueError, match="FIFO"):
        _promptly(md5_file, str(src / "data.txt"))
    _assert_nothing_left(project, "a", url)


def test_a_file_truncated_during_its_put_fails_at_once_and_leaves_nothing(project, gypsum_server, tmp_path):
    url, owner = gypsum_server.url, gypsum_server.tokens["owner"]
    src = write_files(tmp_path / "src", {"big.bin": os.urandom(32 << 20)})  # over 1 MiB: streamed from disk
    stall = Fault("stall_request", pattern=r"^PUT /upload/put/", first=1, delay=3.0)
    with FaultProxy(url, [stall]) as proxy, ThreadPoolExecutor(1) as pool:
        upload = pool.submit(
            client.upload_directory, str(src), project, "a", "v1", url=proxy.url, token=owner, concurrent=1
        )
        assert stall.stalled.wait(120), "the PUT of big.bin never started"
        os.truncate(src / "big.bin", 1 << 20)
        truncated = time.monotonic()
        with pytest.raises(GypsumFileChangedError, match="file changed while uploading: big.bin") as caught:
            upload.result(timeout=120)
        elapsed = time.monotonic() - truncated
    assert elapsed < 60, f"took {elapsed:.0f} s to notice"  # a stale Content-Length stalled for ~10 minutes
    assert not is_transient(caught.value)
    _assert_nothing_left(project, "a", url)
    # Nothing blocks the same version afterwards.
    client.upload_directory(str(src), project, "a", "v1", url=url, token=owner)
    assert client.list_files(project, "a", "v1", include_dot=False, url=url) == ["big.bin"]


def test_a_small_file_that_grows_after_the_upload_began_is_refused(project, gypsum_server, tmp_path):
    url, owner = gypsum_server.url, gypsum_server.tokens["owner"]
    names = ["a.txt", "b.txt", "log.txt"]
    src = write_files(tmp_path / "src", {name: b"line 1\n" for name in names})
    init = client.start_upload(project, "a", "v1", names, directory=str(src), url=url, token=owner)

    def grow(progress) -> None:  # a.txt is sent; with one request in flight, log.txt is not read yet
        if progress.path == "a.txt":
            with open(src / "log.txt", "ab") as handle:
                handle.write(b"line 2\n")

    with pytest.raises(GypsumFileChangedError, match="file changed while uploading: log.txt"):
        client.upload_files(init, directory=str(src), url=url, concurrent=1, progress=grow)
    client.abort_upload(init, url=url)
    _assert_nothing_left(project, "a", url)


@pytest.fixture
def outside(tmp_path) -> Path:
    """A folder outside the upload folder, with a nested file."""
    return write_files(tmp_path / "outside", {"x.txt": b"x", "deep/y.txt": b"y"})


def test_a_folder_symlink_is_followed_or_refused_as_links_says(outside, tmp_path, caplog):
    src = write_files(tmp_path / "src", {"top.txt": b"top"})
    (src / "data").symlink_to(outside, target_is_directory=True)
    (src / "rel").symlink_to(Path("..") / "outside" / "deep")
    cache = str(tmp_path / "cache")
    expected = ["data/deep/y.txt", "data/x.txt", "rel/y.txt", "top.txt"]
    for mode in ("auto", "never"):
        with caplog.at_level(logging.INFO, logger="gypsum_flows.client.prepare"):
            listing = client.prepare_directory_upload(str(src), links=mode, cache_dir=cache)
        assert listing == {"files": expected, "links": []}
        assert "folder symlink 'data' ->" in caplog.text and "followed" in caplog.text
    with pytest.raises(ValueError, match="'data' is a symlink to the folder .* not in the cache") as caught:
        client.prepare_directory_upload(str(src), links="always", cache_dir=cache)
    assert "'rel' is a symlink to the folder" in str(caught.value)


def test_a_folder_symlink_is_never_silently_dropped_by_upload_directory(project, gypsum_server, outside, tmp_path):
    url, owner = gypsum_server.url, gypsum_server.tokens["owner"]
    src = write_files(tmp_path / "src", {"top.txt": b"top"})
    (src / "data").symlink_to(outside, target_is_directory=True)
    with pytest.raises(ValueError, match="'data' is a symlink to the folder"):
        client.upload_directory(str(src), project, "a", "v1", url=url, token=owner, cache_dir=str(tmp_path / "c"))
    _assert_nothing_left(project, "a", url)
    # Uploading the listing that follows it stores every file under the symlinked folder.
    listing = client.prepare_directory_upload(str(src), links="auto", cache_dir=str(tmp_path / "c"))
    init = client.start_upload(project, "a", "v1", listing["files"], directory=str(src), url=url, token=owner)
    client.upload_files(init, directory=str(src), url=url)
    client.complete_upload(init, url=url)
    assert client.list_files(project, "a", "v1", include_dot=False, url=url) == [
        "data/deep/y.txt",
        "data/x.txt",
        "top.txt",
    ]


def test_folder_symlinks_into_the_cache_become_links(basic, project, gypsum_server, tmp_path):
    url, owner, cache = basic.url, gypsum_server.tokens["owner"], tmp_path / "cache"
    saved = Path(client.save_version(basic.project, basic.asset, "v1", cache_dir=str(cache), url=url))
    src = write_files(tmp_path / "src", {"new.txt": b"new"})
    (src / "whole").symlink_to(saved, target_is_directory=True)  # holds ..manifest and lock files too
    (src / "part").symlink_to(saved / "foo", target_is_directory=True)
    client.upload_directory(str(src), project, "a", "v1", url=url, token=owner, cache_dir=str(cache))
    manifest = client.fetch_manifest(project, "a", "v1", cache_dir=False, url=url)
    assert sorted(manifest) == ["new.txt", "part/bar.txt", "whole/blah.txt", "whole/foo/bar.txt"]
    target = {"project": basic.project, "asset": basic.asset, "version": "v1"}
    assert manifest["part/bar.txt"]["link"] == {**target, "path": "foo/bar.txt"}
    assert manifest["whole/blah.txt"]["link"] == {**target, "path": "blah.txt"}
    assert sorted(BASIC_FILES) == ["blah.txt", "foo/bar.txt"]


def test_symlink_cycles_are_refused(tmp_path):
    src = write_files(tmp_path / "src", {"a/file.txt": b"f"})
    (src / "a" / "up").symlink_to("..", target_is_directory=True)
    (src / "self").symlink_to(".", target_is_directory=True)
    with pytest.raises(ValueError) as caught:
        _promptly(client.prepare_directory_upload, str(src), links="never", cache_dir=str(tmp_path / "cache"))
    assert "'a/up' is a symlink to" in str(caught.value) and "symlink cycle" in str(caught.value)
    assert "'self' is a symlink to" in str(caught.value)
