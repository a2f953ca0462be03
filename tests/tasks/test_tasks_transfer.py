"""Download and upload tasks in flows: clone, modify, upload (links reused), session steps, upload_directory."""

from __future__ import annotations

import os
from pathlib import Path

from prefect import flow
from testdata import write_files

from gypsum_flows import client
from gypsum_flows.tasks import (
    abort_upload,
    clone_version,
    complete_upload,
    prepare_directory_upload,
    resolve_links,
    save_file,
    save_version,
    start_upload,
    upload_directory,
    upload_files,
    upload_version,
)


def test_clone_modify_upload_reuses_unchanged_files_as_links(
    gypsum_server, unique_name, publish, credentials, cache_dir, tmp_path
):
    project = unique_name("clone")
    publish(gypsum_server, project, "basic", "v1", {"keep.txt": b"unchanged", "sub/edit.txt": b"old"})
    owner = credentials(gypsum_server, "owner")
    draft = tmp_path / "draft"

    @flow
    def clone_modify_upload() -> dict:
        clone_version(project, "basic", "v1", str(draft), credentials=owner)
        edited = draft / "sub" / "edit.txt"
        edited.unlink()  # a symlink into the cache: replace it, never write through it
        edited.write_bytes(b"new content")
        plan = prepare_directory_upload(str(draft), links="always", credentials=owner)
        stats = upload_version(str(draft), project, "basic", "v2", credentials=owner)
        return {"plan": plan, "stats": stats}

    out = clone_modify_upload()
    assert sorted(out["plan"]["files"]) == ["sub/edit.txt"]
    assert [link["from.path"] for link in out["plan"]["links"]] == ["keep.txt"]
    assert out["stats"] == {
        "project": project,
        "asset": "basic",
        "version": "v2",
        "files_uploaded": 1,
        "files_linked": 1,
        "bytes_uploaded": len(b"new content"),
        "bytes_linked": len(b"unchanged"),
    }
    manifest = client.fetch_manifest(project, "basic", "v2", cache_dir=False, url=gypsum_server.url)
    assert manifest["keep.txt"]["link"]["version"] == "v1"

    @flow
    def download_v2() -> dict:
        folder = save_version(project, "basic", "v2", relink=False, credentials=owner)
        linked_before = os.path.exists(Path(folder, "keep.txt"))
        return {
            "folder": folder,
            "linked_before": linked_before,
            "relinked": resolve_links(project, "basic", "v2", credentials=owner),
            "file": save_file(project, "basic", "v2", "keep.txt", credentials=owner),
        }

    got = download_v2()
    assert got["folder"] == str(cache_dir / "bucket" / project / "basic" / "v2")
    assert got["linked_before"] is False and got["relinked"] is True
    assert Path(got["folder"], "keep.txt").read_bytes() == b"unchanged"
    assert Path(got["file"]).read_bytes() == b"unchanged"
    assert Path(got["folder"], "sub", "edit.txt").read_bytes() == b"new content"


def test_session_steps_and_upload_directory(gypsum_server, unique_name, publish, credentials, tmp_path):
    project = unique_name("steps")
    publish(gypsum_server, project, "basic", "v1", {"a.txt": b"a"})
    owner = credentials(gypsum_server, "owner")
    v2 = write_files(tmp_path / "v2", {"b.txt": b"bb", "c/d.txt": b"ddd"})
    v3 = write_files(tmp_path / "v3", {"e.txt": b"eeee"})

    @flow
    def by_steps() -> bool:
        session = start_upload(project, "basic", "v2", ["b.txt", "c/d.txt"], directory=str(v2), credentials=owner)
        upload_files(session, directory=str(v2), credentials=owner)
        complete_upload(session, credentials=owner)
        abandoned = start_upload(project, "basic", "gone", ["b.txt"], directory=str(v2), credentials=owner)
        abort_upload(abandoned, credentials=owner)
        return upload_directory(str(v3), project, "basic", "v3", probation=True, credentials=owner)

    assert by_steps() is True
    url = gypsum_server.url
    assert sorted(client.list_files(project, "basic", "v2", include_dot=False, url=url)) == ["b.txt", "c/d.txt"]
    assert "gone" not in client.list_versions(project, "basic", url=url)
    assert client.fetch_summary(project, "basic", "v3", cache_dir=False, url=url)["on_probation"] is True
    assert client.fetch_latest(project, "basic", url=url) == "v2"
