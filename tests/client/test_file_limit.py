"""gypsum's per-file limit (one presigned PUT, at most 5 GiB less 5 MiB), shown before any upload starts."""

from __future__ import annotations

import pytest

from gypsum_flows import client
from gypsum_flows.cli import build_parser
from gypsum_flows.constants import MAX_FILE_SIZE
from gypsum_flows.errors import GypsumInvalidRequestError
from gypsum_flows.server import serve_in_thread
from gypsum_flows.server.users import admin_token


def sparse(path, size: int) -> str:
    """A file of ``size`` bytes that takes no disk space."""
    with open(path, "wb") as handle:
        handle.truncate(size)
    return str(path)


@pytest.fixture
def unlimited_server(tmp_path):
    """A local server without the limit (so only the client's check can refuse), and its admin token."""
    server = serve_in_thread(tmp_path / "root", max_file_size=None)
    yield server, admin_token(server.users_file)
    server.stop()


def no_lock_no_version(root, project: str) -> None:
    assert not (root / project / "..LOCK").exists()
    assert [p.name for p in (root / project).iterdir() if not p.name.startswith("..")] == []


def test_the_client_refuses_before_starting_when_the_server_is_not_local(unlimited_server, tmp_path):
    server, admin = unlimited_server
    client.create_project("big", owners="local-admin", url=server.url, token=admin)
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "small.txt").write_text("x")
    sparse(folder / "huge.bin", MAX_FILE_SIZE + 1)
    port = server.url.rsplit(":", 1)[1]
    remote = f"http://localhost.:{port}"  # not recognisably local, yet nothing can leave this machine
    before = len(server.request_log)
    with pytest.raises(GypsumInvalidRequestError) as info:
        client.upload_directory(str(folder), "big", "a", "v1", url=remote, token=admin)
    assert f"'huge.bin' is {MAX_FILE_SIZE + 1:,} bytes, over gypsum's limit of {MAX_FILE_SIZE:,} bytes" in str(
        info.value
    )
    assert len(server.request_log) == before  # not even the start request was sent
    no_lock_no_version(server.root, "big")


def test_the_local_server_enforces_the_same_limit_by_default(fresh_gypsum_server, unique_name):
    server = fresh_gypsum_server
    project = unique_name("big")
    client.create_project(project, owners=[server.logins["owner"]], url=server.url, token=server.tokens["admin"])
    files = [
        {"path": "huge.bin", "size": MAX_FILE_SIZE + 1, "md5sum": "0" * 32},
        {"path": "ok.txt", "size": 1, "md5sum": "9dd4e461268c8034f5c8564e155c67a6"},
    ]
    with pytest.raises(GypsumInvalidRequestError, match=r"file 'huge.bin' is \d+ bytes, over this server's limit"):
        client.start_upload(project, "a", "v1", files, url=server.url, token=server.tokens["owner"])
    no_lock_no_version(server.root, project)
    # Exactly at the limit is fine: the upload starts (and is aborted here).
    init = client.start_upload(
        project, "a", "v1", [{**files[0], "size": MAX_FILE_SIZE}], url=server.url, token=server.tokens["owner"]
    )
    client.abort_upload(init, url=server.url)
    no_lock_no_version(server.root, project)


def test_max_file_size_is_settable(tmp_path):
    assert build_parser().parse_args(["server", "--root", "r", "--max-file-size", "1KB"]).max_file_size == 1000
    server = serve_in_thread(tmp_path / "root", max_file_size=1000)
    try:
        admin = admin_token(server.users_file)
        client.create_project("small", owners="local-admin", url=server.url, token=admin)
        with pytest.raises(GypsumInvalidRequestError, match="over this server's limit of 1000 bytes"):
            client.start_upload(
                "small", "a", "v1", [{"path": "f", "size": 1001, "md5sum": "0" * 32}], url=server.url, token=admin
            )
        no_lock_no_version(server.root, "small")
    finally:
        server.stop()
