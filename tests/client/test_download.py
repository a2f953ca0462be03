"""save_file, save_version, resolve_links, clone_version and prepare_directory_upload."""

from __future__ import annotations

import os

import pytest
from client_helpers import BAR, BLAH, cache_files, tree
from testdata import write_files

from gypsum_flows import client
from gypsum_flows.errors import GypsumNotFoundError


def test_save_file_plain_and_through_links(basic, cache):
    p, url, c = basic.project, basic.url, str(cache)
    path = client.save_file(p, "basic", "v1", "blah.txt", cache_dir=c, url=url)
    assert path == os.path.join(c, "bucket", p, "basic", "v1", "blah.txt")
    assert open(path, "rb").read() == BLAH
    # v3's bar.txt links to v2, whose ancestor is v1: stored once, at v1, and hard-linked.
    linked = client.save_file(p, "basic", "v3", "foo/bar.txt", cache_dir=c, url=url)
    assert open(linked, "rb").read() == BAR
    origin = cache / "bucket" / p / "basic" / "v1" / "foo" / "bar.txt"
    assert os.path.samefile(linked, origin)
    assert not (cache / "bucket" / p / "basic" / "v2" / "foo" / "bar.txt").exists()
    with pytest.raises(GypsumNotFoundError, match="does not exist"):
        client.save_file(p, "basic", "v1", "nope.txt", cache_dir=c, url=url)


def test_save_version_resolves_ancestors_and_marks_complete(basic, cache):
    p, url, c = basic.project, basic.url, str(cache)
    seen = []
    out = client.save_version(p, "basic", "v3", cache_dir=c, url=url, progress=seen.append)
    assert out == os.path.join(c, "bucket", p, "basic", "v3")
    files = {k: v for k, v in tree(out).items() if not k.endswith(".LOCK")}
    assert sorted(files) == ["..links", "..manifest", "..summary", "blah.txt", "foo/..links", "foo/bar.txt"]
    assert files["blah.txt"] == BLAH and files["foo/bar.txt"] == BAR
    assert os.path.samefile(os.path.join(out, "blah.txt"), cache / "bucket" / p / "basic" / "v1" / "blah.txt")
    assert (cache / "status" / p / "basic" / "v3" / "COMPLETE").is_file()
    assert seen[-1].files_done == seen[-1].files_total == 5  # 3 stored files (no manifest) + 2 links
    assert seen[-1].bytes_done == seen[-1].bytes_total == len(BLAH) + len(BAR)
    # No temporary files are left anywhere.
    assert not [f for f in cache_files(cache) if f.endswith(".tmp")]
    # A complete version is not downloaded again.
    os.unlink(os.path.join(out, "blah.txt"))
    client.save_version(p, "basic", "v3", cache_dir=c, url=url)
    assert not os.path.exists(os.path.join(out, "blah.txt"))
    client.save_version(p, "basic", "v3", cache_dir=c, url=url, overwrite=True)
    assert open(os.path.join(out, "blah.txt"), "rb").read() == BLAH


def test_save_version_without_relink_then_resolve_links(basic, cache):
    p, url, c = basic.project, basic.url, str(cache)
    out = client.save_version(p, "basic", "v2", cache_dir=c, url=url, relink=False, concurrent=1)
    assert not os.path.exists(os.path.join(out, "blah.txt"))
    assert client.resolve_links(p, "basic", "v2", cache_dir=c, url=url) is True
    assert open(os.path.join(out, "foo", "bar.txt"), "rb").read() == BAR
    # Links already in the cache are kept (checked in the cache, not the working directory).
    before = os.stat(os.path.join(out, "blah.txt")).st_ino
    client.resolve_links(p, "basic", "v2", cache_dir=c, url=url)
    assert os.stat(os.path.join(out, "blah.txt")).st_ino == before


def test_clone_then_prepare_upload_modes(basic, cache, tmp_path):
    p, url, c = basic.project, basic.url, str(cache)
    dest = tmp_path / "clone"
    assert client.clone_version(p, "basic", "v3", str(dest), cache_dir=c, url=url) is None
    assert os.path.islink(dest / "blah.txt") and (dest / "foo" / "bar.txt").read_bytes() == BAR
    assert os.readlink(dest / "blah.txt") == os.path.abspath(os.path.join(c, "bucket", p, "basic", "v3", "blah.txt"))
    (dest / "new.txt").write_bytes(b"new")

    auto = client.prepare_directory_upload(str(dest), cache_dir=c)
    assert auto["files"] == ["new.txt"]
    assert sorted(auto["links"], key=lambda x: x["from.path"]) == [
        {"from.path": "blah.txt", "to.project": p, "to.asset": "basic", "to.version": "v3", "to.path": "blah.txt"},
        {
            "from.path": "foo/bar.txt",
            "to.project": p,
            "to.asset": "basic",
            "to.version": "v3",
            "to.path": "foo/bar.txt",
        },
    ]
    assert client.prepare_directory_upload(str(dest), links="always", cache_dir=c) == auto
    never = client.prepare_directory_upload(str(dest), links="never", cache_dir=c)
    assert never == {"files": ["blah.txt", "foo/bar.txt", "new.txt"], "links": []}

    # A symlink outside the cache: uploaded as a file in auto mode, an error in always mode.
    outside = write_files(tmp_path / "outside", {"o.txt": b"o"})
    os.symlink(outside / "o.txt", dest / "o.txt")
    assert "o.txt" in client.prepare_directory_upload(str(dest), cache_dir=c)["files"]
    with pytest.raises(ValueError, match="o.txt"):
        client.prepare_directory_upload(str(dest), links="always", cache_dir=c)
    with pytest.raises(ValueError, match="links"):
        client.prepare_directory_upload(str(dest), links="sometimes", cache_dir=c)


def test_clone_without_download_gives_dangling_links_that_still_upload(basic, project, tmp_path, gypsum_server):
    p, url = basic.project, basic.url
    c = str(tmp_path / "empty-cache")
    dest = tmp_path / "clone"
    client.clone_version(p, "basic", "v1", str(dest), download=False, cache_dir=c, url=url)
    assert os.path.islink(dest / "blah.txt") and not os.path.exists(dest / "blah.txt")
    prepared = client.prepare_directory_upload(str(dest), cache_dir=c)
    assert prepared["files"] == [] and len(prepared["links"]) == 2
    with pytest.raises(ValueError, match="dangling"):
        client.prepare_directory_upload(str(dest), links="never", cache_dir=c)
    # A dangling symlink outside the cache cannot be uploaded in auto mode either.
    os.symlink(tmp_path / "missing.txt", dest / "gone.txt")
    with pytest.raises(ValueError, match="dangling"):
        client.prepare_directory_upload(str(dest), cache_dir=c)
    os.unlink(dest / "gone.txt")
    # The clone uploads as a new version made only of links.
    (dest / "extra.txt").write_bytes(b"extra")
    client.upload_directory(
        str(dest), project, "clone", "v1", cache_dir=c, url=url, token=gypsum_server.tokens["owner"]
    )
    manifest = client.fetch_manifest(project, "clone", "v1", cache_dir=False, url=url)
    assert manifest["blah.txt"]["link"]["version"] == "v1"
    assert "link" not in manifest["extra.txt"]
    # As in gypsum_client, include_dot=False drops only top-level ".." files.
    assert client.list_files(project, "clone", "v1", include_dot=False, url=url) == ["extra.txt", "foo/..links"]
