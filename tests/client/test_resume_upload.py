"""Resumable upload sessions: a retry within one session re-sends only the files the server has not confirmed."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from client_helpers import tree
from testdata import write_files

from gypsum_flows import _http, client
from gypsum_flows.client._util import DEFAULT_CONCURRENCY
from gypsum_flows.client.upload import CONFIRMED
from gypsum_flows.errors import GypsumTransientError

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from faultproxy import Fault, FaultProxy  # noqa: E402

FILES = {f"part-{i:02d}.txt": f"contents of file {i}\n".encode() * (i + 1) for i in range(20)}


@pytest.fixture
def project_on(unique_name):
    """``project_on(server)``: a new project on ``server`` owned by its ``owner`` role."""

    def make(server) -> str:
        name = unique_name("resume")
        client.create_project(name, owners=[server.logins["owner"]], url=server.url, token=server.tokens["admin"])
        return name

    return make


def server_puts(server) -> int:
    return sum(1 for method, path in server.request_log if method == "PUT" and path.startswith("/upload/put/"))


def test_a_retry_in_the_same_session_sends_only_the_missing_files(fresh_gypsum_server, project_on, tmp_path):
    server = fresh_gypsum_server
    project = project_on(server)
    src = str(write_files(tmp_path / "src", FILES))
    # The first 16 PUTs get through; every later one is refused (the server never sees it) until the fault ends.
    # One request at a time, so the proxy counts them in the order they are confirmed.
    with FaultProxy(server.url, [Fault("503", pattern=r"^PUT /upload/put/", after=16, first=10**6)]) as proxy:
        init = client.start_upload(
            project, "a", "v1", sorted(FILES), directory=src, url=proxy.url, token=server.tokens["owner"]
        )
        with pytest.raises(GypsumTransientError, match="failed to upload 'part-"):
            client.upload_files(init, directory=src, url=proxy.url, concurrent=1)
        assert len(set(init[CONFIRMED])) == server_puts(server) == 16
        proxy.set_faults([])
        client.upload_files(init, directory=src, url=proxy.url)  # the retry, same session
        client.complete_upload(init, url=proxy.url)
        assert proxy.requests_matching(r"^PUT /upload/put/") > len(FILES)  # refused attempts were made...
    assert server_puts(server) == len(FILES)  # ...but each file reached the server once
    saved = client.save_version(project, "a", "v1", cache_dir=str(tmp_path / "cache"), url=server.url)
    assert {k: v for k, v in tree(saved).items() if not k.startswith("..")} == FILES


def test_a_round_that_got_no_file_through_ends_the_upload(fresh_gypsum_server, project_on, tmp_path):
    server = fresh_gypsum_server
    project = project_on(server)
    write_files(tmp_path / "src", FILES)
    # Every PUT is refused: the first file's budget runs out in the first round, which confirmed nothing, so
    # no second round multiplies it (docs/client.md, "The retry budget").
    with FaultProxy(server.url, [Fault("503", pattern=r"^PUT /upload/put/", rate=1.0)]) as proxy:
        with pytest.raises(GypsumTransientError, match="failed to upload 'part-") as info:
            client.upload_directory(
                str(tmp_path / "src"), project, "a", "v1", url=proxy.url, token=server.tokens["owner"]
            )
        # One round: the first file's repeats, and the first sends of the files in flight (8, and one more
        # sent as the first answer was read).
        assert proxy.requests_matching(r"^PUT /upload/put/") <= _http.ATTEMPTS - 1 + DEFAULT_CONCURRENCY + 1
    assert info.value.attempts == _http.ATTEMPTS
    assert server_puts(server) == 0 and client.list_versions(project, "a", url=server.url) == []


def test_upload_directory_resumes_within_its_session(fresh_gypsum_server, project_on, tmp_path):
    server = fresh_gypsum_server
    project = project_on(server)
    write_files(tmp_path / "src", FILES)
    # After 12 PUTs, the next file's every send is refused, so the first round fails having confirmed 12; the
    # second sends the rest. One request at a time, so the proxy counts them in the order they are confirmed.
    rule = Fault("503", pattern=r"^PUT /upload/put/", after=12, first=_http.ATTEMPTS)
    with FaultProxy(server.url, [rule]) as proxy:
        client.upload_directory(
            str(tmp_path / "src"), project, "a", "v1", url=proxy.url, token=server.tokens["owner"], concurrent=1
        )
    assert proxy.counts["503"] == _http.ATTEMPTS
    assert server_puts(server) == len(FILES)
    assert client.list_versions(project, "a", url=server.url) == ["v1"]
    assert client.fetch_manifest(project, "a", "v1", cache_dir=False, url=server.url).keys() == FILES.keys()
