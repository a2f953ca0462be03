"""The reference fixture test-R/basic v1-v3, rebuilt through the API and checked key by key."""

from __future__ import annotations

from server_helpers import md5_hex

BLAH = "".join(f"{chr(c)}\n" for c in range(ord("A"), ord("Z") + 1)).encode()
BAR = b"1 2 3 4 5\n6 7 8 9 10\n"
FILES = {"blah.txt": BLAH, "foo/bar.txt": BAR}


def link(version: str, path: str, ancestor: str | None = None) -> dict:
    out = {"project": "test-R", "asset": "basic", "version": version, "path": path}
    if ancestor:
        out["ancestor"] = {**out, "version": ancestor}
    return out


def test_test_r_basic_v1_to_v3(fresh_api):
    api = fresh_api
    assert api.create("test-R", permissions={"owners": [api.server.logins["owner"]]}).status_code == 200
    init = api.upload("test-R", "basic", "v1", FILES)
    assert [f["path"] for f in init["file_urls"]] == ["blah.txt", "foo/bar.txt"]
    for version in ("v2", "v3"):
        init = api.upload("test-R", "basic", version, FILES, kind="dedup")
        assert init["file_urls"] == []

    assert api.listing() == ["..logs/", "test-R/"]
    assert api.listing("test-R/basic") == ["test-R/basic/"]
    assert api.listing("test-R/basic/") == [
        "test-R/basic/v1/",
        "test-R/basic/v2/",
        "test-R/basic/v3/",
        "test-R/basic/..latest",
    ]
    assert api.listing("test-R/basic/v1/", recursive=True) == [
        "test-R/basic/v1/..manifest",
        "test-R/basic/v1/..summary",
        "test-R/basic/v1/blah.txt",
        "test-R/basic/v1/foo/bar.txt",
    ]
    for version in ("v2", "v3"):
        assert api.listing(f"test-R/basic/{version}/", recursive=True) == [
            f"test-R/basic/{version}/{k}" for k in ("..links", "..manifest", "..summary", "foo/..links")
        ]
    assert api.listing("test-R/", recursive=False) == [
        "test-R/basic/",
        "test-R/..permissions",
        "test-R/..quota",
        "test-R/..usage",
    ]

    assert api.json("test-R/basic/..latest") == {"version": "v3"}
    assert api.json("test-R/basic/v2/..links") == {"blah.txt": link("v1", "blah.txt")}
    assert api.json("test-R/basic/v2/foo/..links") == {"bar.txt": link("v1", "foo/bar.txt")}
    assert api.json("test-R/basic/v3/..links") == {"blah.txt": link("v2", "blah.txt", ancestor="v1")}
    assert api.json("test-R/basic/v3/foo/..links") == {"bar.txt": link("v2", "foo/bar.txt", ancestor="v1")}
    assert api.json("test-R/basic/v1/..manifest") == {
        "blah.txt": {"size": 52, "md5sum": md5_hex(BLAH)},
        "foo/bar.txt": {"size": 21, "md5sum": md5_hex(BAR)},
    }
    assert api.json("test-R/basic/v3/..manifest")["foo/bar.txt"] == {
        "size": 21,
        "md5sum": md5_hex(BAR),
        "link": link("v2", "foo/bar.txt", ancestor="v1"),
    }
    for version in ("v1", "v2", "v3"):
        summary = api.json(f"test-R/basic/{version}/..summary")
        assert sorted(summary) == ["upload_finish", "upload_start", "upload_user_id"]
        assert summary["upload_user_id"] == api.server.logins["owner"]
        assert summary["upload_start"].endswith("Z") and len(summary["upload_finish"]) == 24
    assert api.json("test-R/..usage") == {"total": len(BLAH) + len(BAR)}
    assert api.call("GET", "/file/test-R%2Fbasic%2Fv1%2Fblah.txt").content == BLAH

    logs = api.listing("..logs/", recursive=True)
    entries = [api.json(key) for key in logs]
    assert entries == [
        {"type": "add-version", "project": "test-R", "asset": "basic", "version": v, "latest": True}
        for v in ("v1", "v2", "v3")
    ]
    assert all(len(key.rpartition("_")[2]) == 6 for key in logs)
