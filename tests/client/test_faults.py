"""Resilience through a real misbehaving proxy (tests/faultproxy.py) in front of the local server."""

from __future__ import annotations

import os
import sys
import time
from itertools import pairwise
from pathlib import Path

import pytest
from client_helpers import BAR, BLAH, cache_files
from testdata import write_files

from gypsum_flows import _http, client
from gypsum_flows.errors import (
    GypsumIntegrityError,
    GypsumInvalidRequestError,
    GypsumPermissionError,
    GypsumTransientError,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from faultproxy import Fault, FaultProxy  # noqa: E402


@pytest.fixture
def proxy(gypsum_server):
    with FaultProxy(gypsum_server.url, seed=1234) as running:
        yield running


def test_503_and_reset_are_retried_on_reads(basic, proxy):
    proxy.set_faults([Fault("503", pattern=r"^GET /list", first=2), Fault("reset", pattern=r"^GET /file", first=2)])
    assert client.list_versions(basic.project, "basic", url=proxy.url) == ["v1", "v2", "v3"]
    assert client.fetch_latest(basic.project, "basic", url=proxy.url) == "v3"
    assert proxy.counts == {"503": 2, "reset": 2}
    assert proxy.requests_matching(r"^GET /list") == 3
    assert proxy.requests_matching(r"^GET /file") == 3


def test_429_honours_retry_after(basic, proxy):
    proxy.set_faults([Fault("429", pattern=r"^GET /file", first=1, retry_after=1)])
    start = time.monotonic()
    assert client.fetch_usage(basic.project, url=proxy.url) > 0
    assert time.monotonic() - start >= 0.9
    assert proxy.counts["429"] == 1


def test_random_faults_on_a_whole_version_download(basic, proxy, cache):
    proxy.set_faults([Fault(kind, pattern=r"^GET ", rate=0.05) for kind in ("503", "reset", "truncate", "corrupt")])
    out = client.save_version(basic.project, "basic", "v3", cache_dir=str(cache), url=proxy.url, overwrite=True)
    assert (Path(out) / "blah.txt").read_bytes() == BLAH and (Path(out) / "foo" / "bar.txt").read_bytes() == BAR
    assert not [f for f in cache_files(cache) if f.endswith(".tmp")]


def test_slow_response_times_out_and_is_retried(basic, proxy, monkeypatch):
    proxy.set_faults([Fault("slow", pattern=r"^GET /file", first=1, delay=1.0)])
    monkeypatch.setitem(_http.REQUESTS_MOD, "timeout", (2.0, 0.3))
    assert client.fetch_usage(basic.project, url=proxy.url) > 0 and proxy.counts["slow"] == 1
    assert proxy.requests_matching(r"^GET /file") == 2


@pytest.mark.parametrize("kind", ["truncate", "corrupt"])
def test_broken_download_is_retried_and_verified(basic, proxy, cache, kind):
    proxy.set_faults([Fault(kind, pattern=r"blah\.txt", first=1)])
    path = client.save_file(basic.project, "basic", "v1", "blah.txt", cache_dir=str(cache), url=proxy.url)
    assert Path(path).read_bytes() == BLAH and proxy.counts[kind] == 1


@pytest.mark.parametrize(("kind", "error"), [("truncate", GypsumTransientError), ("corrupt", GypsumIntegrityError)])
def test_always_broken_download_never_enters_the_cache(basic, proxy, cache, kind, error):
    proxy.set_faults([Fault(kind, pattern=r"blah\.txt", rate=1.0)])
    with pytest.raises(error, match="blah.txt" if kind == "corrupt" else "network error"):
        client.save_file(basic.project, "basic", "v1", "blah.txt", cache_dir=str(cache), url=proxy.url)
    assert [f for f in cache_files(cache) if "blah.txt" in f and not f.endswith(".LOCK")] == []
    assert not [f for f in cache_files(cache) if f.endswith(".tmp")]
    with pytest.raises(error):
        client.save_version(basic.project, "basic", "v1", cache_dir=str(cache), url=proxy.url)
    assert not (cache / "status" / basic.project / "basic" / "v1" / "COMPLETE").exists()


def test_client_errors_are_not_retried(project, gypsum_server, proxy):
    url = proxy.url
    with pytest.raises(GypsumPermissionError) as info:
        client.set_permissions(project, owners=["x"], url=url, token=gypsum_server.tokens["stranger"])
    assert info.value.status == 403
    assert proxy.requests_matching(r"^PUT /permissions/") == 1
    bad = [{"path": "trailing/", "size": 1, "md5sum": "0" * 32}]
    with pytest.raises(GypsumInvalidRequestError) as info:
        client.start_upload(project, "a", "v1", bad, url=url, token=gypsum_server.tokens["owner"])
    assert info.value.status == 400 and "start or end" in info.value.reason
    assert proxy.requests_matching(r"^POST /upload/start/") == 1
    tokens = gypsum_server.tokens.values()
    assert not any(t in str(info.value) or t in repr(info.value) for t in tokens)


def test_error_body_under_200_is_an_error(project, gypsum_server, proxy):
    proxy.set_faults([Fault("status200", pattern=r"^POST /upload/start/", first=1)])
    bad = [{"path": "trailing/", "size": 1, "md5sum": "0" * 32}]
    with pytest.raises(GypsumInvalidRequestError, match="start or end") as info:
        client.start_upload(project, "a", "v1", bad, url=proxy.url, token=gypsum_server.tokens["owner"])
    assert info.value.status == 200 and proxy.counts["status200"] == 1


def test_state_changing_calls_retry_only_when_the_server_did_not_act(project, gypsum_server, proxy):
    url, owner, admin = proxy.url, gypsum_server.tokens["owner"], gypsum_server.tokens["admin"]
    proxy.set_faults([Fault("503", pattern=r"^POST /upload/start/", first=1)])
    init = client.start_upload(project, "a", "v1", [], url=url, token=owner)
    client.complete_upload(init, url=url)
    assert proxy.requests_matching(r"^POST /upload/start/") == 2
    # The answer is lost after the server acted: not repeated (a repeat would find the project locked).
    proxy.set_faults([Fault("reset_after", pattern=r"^POST /upload/start/", first=1)])
    with pytest.raises(GypsumTransientError, match="may have started this upload"):
        client.start_upload(project, "a", "v2", [], url=url, token=owner)
    assert proxy.requests_matching(r"^POST /upload/start/") == 3
    client.unlock_project(project, url=url, token=admin)
    client.remove_version(project, "a", "v2", url=url, token=admin)


def test_completion_that_already_took_effect_is_success(project, gypsum_server, proxy, tmp_path):
    url, owner = proxy.url, gypsum_server.tokens["owner"]
    src = write_files(tmp_path / "src", {"x.txt": b"x" * 3_000_000})
    proxy.set_faults(
        [
            Fault("reset_after", pattern=r"^POST /upload/complete/", first=1),
            Fault("503", pattern=r"^POST /upload/presigned-file/", first=1),
            Fault("503", pattern=r"^PUT ", first=1),
        ]
    )
    seen = []
    assert client.upload_directory(str(src), project, "a", "v1", url=url, token=owner, progress=seen.append) is True
    assert proxy.requests_matching(r"^POST /upload/complete/") == 2
    # The PUT was sent twice; progress was rolled back for the failed attempt.
    assert max(s.bytes_done for s in seen) == seen[-1].bytes_done == seen[-1].bytes_total == 3_000_000
    assert any(later.bytes_done < earlier.bytes_done for earlier, later in pairwise(seen))
    assert proxy.counts["503"] == 2
    assert client.fetch_latest(project, "a", url=url) == "v1"


def test_failure_mid_upload_leaves_no_version_and_no_lock(project, gypsum_server, proxy, tmp_path):
    url, owner = proxy.url, gypsum_server.tokens["owner"]
    src = write_files(tmp_path / "src", {f"f{i}.txt": f"file {i}".encode() for i in range(6)})
    proxy.set_faults([Fault("corrupt_request", pattern=r"^PUT .*", first=1)])
    with pytest.raises(GypsumInvalidRequestError, match=r"failed to upload 'f\d\.txt'"):
        client.upload_directory(str(src), project, "a", "v1", url=url, token=owner, concurrent=3)
    assert proxy.requests_matching(r"^POST /upload/abort/") == 1  # aborted through the same server
    assert client.list_versions(project, "a", url=gypsum_server.url) == []
    # No lock is left: the same upload now goes through.
    assert client.upload_directory(str(src), project, "a", "v1", url=url, token=owner) is True


def test_broken_off_download_resumes_with_range(project, gypsum_server, proxy, tmp_path, cache):
    data = bytes(range(256)) * 8000  # 2 MB
    client.upload_directory(
        str(write_files(tmp_path / "src", {"big.bin": data})),
        project,
        "a",
        "v1",
        url=gypsum_server.url,
        token=gypsum_server.tokens["owner"],
    )
    proxy.set_faults([Fault("truncate", pattern=r"big\.bin", first=1)])
    seen = []
    out = client.save_version(project, "a", "v1", cache_dir=str(cache), url=proxy.url, progress=seen.append)
    assert (Path(out) / "big.bin").read_bytes() == data and proxy.counts["truncate"] == 1
    assert proxy.requests_matching(r"big\.bin") == 2
    # Progress never went back: the second request continued where the first broke off.
    done = [s.bytes_done for s in seen]
    assert done == sorted(done) and done[-1] == len(data)


def test_a_large_download_broken_off_then_corrupted_is_resumed_then_fetched_again(
    project, gypsum_server, proxy, tmp_path, cache
):
    """Large enough to be hashed on a thread of its own, reading the file back as it is written."""
    data = os.urandom(20 << 20)
    client.upload_directory(
        str(write_files(tmp_path / "src", {"big.bin": data})),
        project,
        "a",
        "v1",
        url=gypsum_server.url,
        token=gypsum_server.tokens["owner"],
    )
    # The first answer breaks off halfway; the resumed one arrives corrupted; the third is whole and intact.
    proxy.set_faults([Fault("truncate", pattern=r"big\.bin", first=1), Fault("corrupt", pattern=r"big\.bin", first=1)])
    out = client.save_version(project, "a", "v1", cache_dir=str(cache), url=proxy.url)
    assert (Path(out) / "big.bin").read_bytes() == data
    assert proxy.counts == {"truncate": 1, "corrupt": 1} and proxy.requests_matching(r"big\.bin") == 3
    assert not [f for f in cache_files(cache) if f.endswith(".tmp")]
