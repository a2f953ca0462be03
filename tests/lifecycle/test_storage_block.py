"""The GypsumVersion storage block and the pull_version step, against a live local gypsum server."""

from __future__ import annotations

import asyncio

import pytest
from testdata import write_files

from gypsum_flows import client
from gypsum_flows.blocks import GypsumCredentials, GypsumVersion
from gypsum_flows.deployments.steps import pull_version
from gypsum_flows.errors import GypsumError, GypsumNotFoundError

FILES = {"flows/hello.py": b"print('hi')\n", "flows/conf/settings.yaml": b"a: 1\n", "README.md": b"# code\n"}


@pytest.fixture
def published(gypsum_server, unique_name, tmp_path) -> GypsumVersion:
    """A version holding FILES, and a block pointing at it (reads need no token)."""
    project = unique_name("code")
    client.create_project(
        project, owners=[gypsum_server.logins["owner"]], url=gypsum_server.url, token=gypsum_server.tokens["admin"]
    )
    folder = write_files(tmp_path / "src", FILES)
    client.upload_directory(
        str(folder), project, "etl", "v1", url=gypsum_server.url, token=gypsum_server.tokens["owner"]
    )
    creds = GypsumCredentials(url=gypsum_server.url, cache_dir=str(tmp_path / "cache"))
    return GypsumVersion(project=project, asset="etl", version="v1", credentials=creds)


def test_read_path_returns_a_files_bytes(published):
    assert asyncio.run(published.read_path("flows/hello.py")) == FILES["flows/hello.py"]
    with pytest.raises(GypsumNotFoundError):
        published.read_path_sync("flows/missing.py")


def test_get_directory_copies_the_whole_version_or_one_folder(published, tmp_path):
    everything = tmp_path / "all"
    asyncio.run(published.get_directory(local_path=str(everything)))
    assert {p.relative_to(everything).as_posix(): p.read_bytes() for p in everything.rglob("*") if p.is_file()} == FILES
    assert not any(p.is_symlink() for p in everything.rglob("*")), "copies, not links into the shared cache"
    part = tmp_path / "part"
    assert published.get_directory_sync(from_path="flows/", local_path=str(part)) == ["conf/settings.yaml", "hello.py"]


@pytest.mark.parametrize("bad", ["../escape", "/etc", "a//b"])
def test_bad_paths_are_refused_before_any_request(published, bad, tmp_path):
    with pytest.raises(GypsumError, match="bad path"):
        published.read_path_sync(bad)
    with pytest.raises(GypsumError, match="bad path"):
        published.get_directory_sync(from_path=bad, local_path=str(tmp_path / "x"))


def test_a_folder_without_files_is_an_error(published, tmp_path):
    with pytest.raises(GypsumError, match="no files under 'nope'"):
        published.get_directory_sync(from_path="nope", local_path=str(tmp_path / "x"))


def test_pull_version_step_fills_a_folder_and_names_it(published, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GYPSUM_REST_URL", published.credentials.url)
    out = pull_version(published.project, "etl", "v1", from_path="flows")
    assert out == {"directory": str(tmp_path / f"gypsum-{published.project}-etl-v1")}
    assert (tmp_path / out["directory"] / "hello.py").read_bytes() == FILES["flows/hello.py"]


def test_the_block_never_shows_its_token():
    block = GypsumVersion(project="p", asset="a", version="v", credentials=GypsumCredentials(token="s3cret-token"))
    assert "s3cret-token" not in repr(block) and "s3cret-token" not in str(block.model_dump())
