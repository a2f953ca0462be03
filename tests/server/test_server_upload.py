"""The upload flow: validation reasons, deduplication, links, quota, completion checks."""

from __future__ import annotations

import pytest
import requests
from server_helpers import assert_error, file_entries, md5_hex, snapshot

FILES = {"f.txt": b"12345", "d/g.txt": b"abc"}
GOOD = file_entries({"f.txt": b"12345"})[0]
LINK = {"type": "link", "path": "l", "link": {"project": "p", "asset": "a", "version": "v", "path": "x"}}


def _with(**changes):
    entry = {**GOOD, **changes}
    return [{k: v for k, v in entry.items() if v is not None}]


@pytest.mark.parametrize(
    "body, reason",
    [
        ("{", "failed to parse JSON body; ..."),
        ([], "expected request body to be a JSON object"),
        ({"files": [], "on_probation": "yes"}, "expected the 'on_probation' property to be a boolean"),
        ({}, "expected the 'files' property to be an array"),
        ({"files": {"a": 1}}, "expected the 'files' property to be an array"),
        ({"files": [1]}, "'files' should be an array of objects"),
        ({"files": _with(type=None)}, "'files.type' should be a string"),
        ({"files": _with(path=5)}, "'files.path' should be a string"),
        ({"files": _with(path="")}, "'files.path' cannot be empty"),
        ({"files": _with(path="..x")}, "components of 'files.path' cannot start with '..'"),
        ({"files": _with(path="a/..links")}, "components of 'files.path' cannot start with '..'"),
        ({"files": _with(path="/abs")}, "'files.path' cannot start or end with '/'"),
        ({"files": _with(path="dir/")}, "'files.path' cannot start or end with '/'"),
        ({"files": _with(path="a//b")}, "'files.path' cannot contain repeated '/'"),
        ({"files": _with(path="a\\b")}, "'files.path' cannot contain '\\\\'"),
        ({"files": [GOOD, GOOD]}, "duplicated value 'f.txt' in 'files.path'"),
        ({"files": _with(md5sum=None)}, "'files.md5sum' should be a string"),
        ({"files": _with(md5sum="xyz")}, "'files.md5sum' should be a 32-character hexadecimal MD5 checksum"),
        ({"files": _with(size=-1)}, "'files.size' should be a non-negative integer"),
        ({"files": _with(size=1.5)}, "'files.size' should be a non-negative integer"),
        ({"files": _with(size="5")}, "'files.size' should be a non-negative integer"),
        ({"files": _with(size=True)}, "'files.size' should be a non-negative integer"),
        ({"files": [{"type": "link", "path": "l"}]}, "'files.link' should be an object"),
        ({"files": [{**LINK, "link": {**LINK["link"], "asset": 3}}]}, "'files.link.asset' should be a string"),
        ({"files": _with(type="multipart")}, "invalid 'files.type'"),
    ],
)
def test_start_validation(api, project, body, reason):
    before = snapshot(api.server.root / project)
    kwargs = {"data": body} if isinstance(body, str) else {"json": body}
    assert_error(api.call("POST", f"/upload/start/{project}/a/v1", "owner", **kwargs), 400, reason)
    assert snapshot(api.server.root / project) == before  # no lock, no version folder left behind


@pytest.mark.parametrize(
    "names, reason",
    [
        (("..p", "a", "v"), "project name cannot start with '..'"),
        (("{p}", "a%2Fb", "v"), "asset name cannot contain '/' or '\\\\'"),
        (("{p}", "a", "v%5Cw"), "version name cannot contain '/' or '\\\\'"),
        (("{p}", "a", "..v"), "version name cannot start with '..'"),
    ],
)
def test_start_names(api, project, names, reason):
    path = "/upload/start/" + "/".join(n.format(p=project) for n in names)
    assert_error(api.call("POST", path, "owner", json={"files": []}), 400, reason)


def test_start_unknown_project(api, unique_name):
    missing = unique_name("missing")
    assert_error(api.start(missing, "a", "v1", []), 400, f"no existing permissions for project '{missing}'")


def test_start_response_shape(api, project):
    res = api.start(project, "a", "v1", file_entries(FILES))
    init = res.json()
    assert sorted(init) == ["abort_url", "complete_url", "file_urls", "session_token"]
    assert init["complete_url"] == f"/upload/complete/{project}/a/v1"
    assert init["abort_url"] == f"/upload/abort/{project}/a/v1"
    assert [(f["path"], f["method"]) for f in init["file_urls"]] == [("f.txt", "presigned"), ("d/g.txt", "presigned")]
    assert all(f["url"].startswith("/upload/presigned-file/") for f in init["file_urls"])
    assert api.json(f"{project}/a/v1/..summary")["on_probation"] is False
    expected = {p: {"size": len(d), "md5sum": md5_hex(d)} for p, d in FILES.items()}
    assert api.json(f"{project}/a/v1/..manifest") == expected
    signed = api.presign(init, init["file_urls"][0])
    assert signed["md5sum_base64"] == "gnzLDuqKcGxMNKFokfhOew=="
    assert signed["url"].startswith(api.url + "/upload/put/")
    assert api.finish(init, "abort").status_code == 200
    internal = ("..permissions", "..quota", "..usage")
    assert api.listing(f"{project}/", recursive=True) == [f"{project}/{k}" for k in internal]


def test_dedup_and_simple(api, project):
    api.upload(project, "a", "v1", FILES, kind="dedup")  # no latest yet: everything is uploaded
    assert api.listing(f"{project}/a/v1/", recursive=True)[-2:] == [f"{project}/a/v1/d/g.txt", f"{project}/a/v1/f.txt"]
    changed = {"f.txt": b"12345", "d/g.txt": b"changed"}
    init = api.upload(project, "a", "v2", changed, kind="dedup")
    assert [f["path"] for f in init["file_urls"]] == ["d/g.txt"]
    assert api.json(f"{project}/a/v2/..links") == {
        "f.txt": {"project": project, "asset": "a", "version": "v1", "path": "f.txt"}
    }
    init = api.upload(project, "a", "v3", changed, kind="simple")  # simple files are never deduplicated
    assert len(init["file_urls"]) == 2
    assert api.json(f"{project}/..usage") == {"total": 8 + 7 + 12}


def test_explicit_links_across_projects(api, project, unique_name):
    other = unique_name("other")
    assert api.create(other, permissions={"owners": [api.server.logins["owner"]]}).status_code == 200
    api.upload(other, "src", "v1", FILES)
    link = {
        "type": "link",
        "path": "x/copy.txt",
        "link": {"project": other, "asset": "src", "version": "v1", "path": "f.txt"},
    }
    api.upload(project, "a", "v1", {"own.txt": b"own"}, links=[link])
    assert api.json(f"{project}/a/v1/x/..links") == {"copy.txt": link["link"]}
    manifest = api.json(f"{project}/a/v1/..manifest")
    assert manifest["x/copy.txt"] == {"size": 5, "md5sum": md5_hex(b"12345"), "link": link["link"]}
    assert api.json(f"{project}/..usage") == {"total": 3}


def _link(project, version, path="f.txt", asset="a"):
    return {
        "type": "link",
        "path": "l.txt",
        "link": {"project": project, "asset": asset, "version": version, "path": path},
    }


def test_link_checks(api, project, unique_name):
    api.upload(project, "a", "v1", FILES)
    api.upload(project, "a", "prob", FILES, role="uploader")
    other = unique_name("other")
    assert api.create(other, permissions={"owners": [api.server.logins["owner"]]}).status_code == 200
    pending = api.start(other, "a", "v1", file_entries(FILES)).json()
    nomanifest = api.server.root / project / "a" / "nomanifest" / "..summary"
    nomanifest.parent.mkdir(parents=True)
    nomanifest.write_text(
        '{"upload_user_id":"x","upload_start":"2024-01-01T00:00:00.000Z","upload_finish":"2024-01-01T00:00:01.000Z"}'
    )
    cases = [
        (_link(project, "v2"), f"detected circular link from 'l.txt' to '{project}/a/v2/f.txt'"),
        (_link(project, "nope"), f"cannot find version summary for link from 'l.txt' to '{project}/a/nope/f.txt'"),
        (
            _link(project, "prob"),
            f"cannot refer to probational version for link from 'l.txt' to '{project}/a/prob/f.txt'",
        ),
        (_link(other, "v1"), f"cannot refer to incomplete upload for link from 'l.txt' to '{other}/a/v1/f.txt'"),
        (_link(project, "nomanifest"), f"no manifest available for link target inside '{project}/a/nomanifest'"),
        (_link(project, "v1", "missing"), f"failed to link from 'l.txt' to '{project}/a/v1/missing'"),
        (_link("..", "v1", asset=".."), "invalid object key '../../v1/..summary'"),
    ]
    for link, reason in cases:
        assert_error(api.start(project, "a", "v2", [link]), 400, reason)
        assert api.call("GET", f"/file/{project}%2Fa%2Fv2%2F..summary").status_code == 404
    assert api.finish(pending, "abort").status_code == 200


def test_link_to_link_gets_ancestor(api, project):
    api.upload(project, "a", "v1", FILES)
    api.upload(project, "a", "v2", {}, links=[_link(project, "v1")])
    api.upload(project, "b", "v1", {}, links=[_link(project, "v2", "l.txt")])
    assert api.json(f"{project}/b/v1/..links")["l.txt"]["ancestor"] == _link(project, "v1")["link"]


def test_quota_is_greater_or_equal(api, project):
    assert api.call("PUT", f"/quota/{project}", "admin", json={"baseline": 10, "growth_rate": 0}).status_code == 200
    assert_error(
        api.start(project, "a", "v1", file_entries({"x": b"0123456789"})),
        400,
        "upload exceeds the storage quota for this project",
    )
    api.upload(project, "a", "v1", {"x": b"012345678"})
    assert_error(
        api.start(project, "a", "v2", file_entries({"y": b"0"})),
        400,
        "upload exceeds the storage quota for this project",
    )


def test_complete_checks_files(api, project):
    init = api.start(project, "a", "v1", file_entries(FILES)).json()
    assert_error(api.finish(init), 400, "path 'f.txt' in manifest should have a file")
    assert api.json(f"{project}/..LOCK")  # a failed completion keeps the lock
    assert api.finish(init, "abort").status_code == 200
    # A manifest size that differs from the bytes sent (same MD5) is caught at completion.
    init = api.start(project, "a", "v1", [{**GOOD, "size": 10}]).json()
    signed = api.presign(init, init["file_urls"][0])
    assert requests.put(signed["url"], data=b"12345", headers={"Content-MD5": signed["md5sum_base64"]}).ok
    assert_error(api.finish(init), 400, "actual size of 'f.txt' does not match its reported size in the manifest")
    assert api.finish(init, "abort").status_code == 200
    assert api.listing(f"{project}/a/") == []


def test_double_completion_and_existing_version(api, project):
    init = api.upload(project, "a", "v1", FILES)
    before = snapshot(api.server.root)
    assert_error(api.finish(init), 403, "project has not been previously locked for upload")
    assert_error(api.start(project, "a", "v1", file_entries(FILES)), 400, "project-asset-version already exists")
    assert_error(
        api.start(project, "a", "v1", file_entries({"new": b"n"}), role="admin"),
        400,
        "project-asset-version already exists",
    )
    after = snapshot(api.server.root)
    assert {k: v for k, v in after.items() if "/..logs/" not in k} == {
        k: v for k, v in before.items() if "/..logs/" not in k
    }
    assert api.call("GET", f"/file/{project}%2Fa%2Fv1%2Ff.txt").content == b"12345"
    api.upload(project, "a", "v2", FILES)  # the lock was released


def test_probation_flow(api, project):
    api.upload(project, "a", "v1", FILES)
    api.upload(project, "a", "v2", FILES, role="uploader")
    assert api.json(f"{project}/a/..latest") == {"version": "v1"}
    assert_error(
        api.call("POST", f"/probation/approve/{project}/a/v1", "owner"),
        400,
        "cannot approve probation for non-probational version",
    )
    assert_error(
        api.call("POST", f"/probation/reject/{project}/a/v1", "owner"),
        400,
        "cannot reject probation for non-probational version",
    )
    assert_error(api.call("POST", f"/probation/approve/{project}/a/v9", "owner"), 400, "version does not exist")
    assert api.call("POST", f"/probation/approve/{project}/a/v2", "owner").status_code == 200
    assert api.json(f"{project}/a/..latest") == {"version": "v2"}
    assert "on_probation" not in api.json(f"{project}/a/v2/..summary")
    # Approving an older probational version does not move ..latest.
    api.upload(project, "a", "v3", FILES, role="uploader")
    api.upload(project, "a", "v4", FILES)
    assert api.call("POST", f"/probation/approve/{project}/a/v3", "admin").status_code == 200
    assert api.json(f"{project}/a/..latest") == {"version": "v4"}
    logs = [api.json(k) for k in api.listing("..logs/", recursive=True)]
    assert {"type": "add-version", "project": project, "asset": "a", "version": "v3", "latest": False} in logs
    usage = api.json(f"{project}/..usage")["total"]
    api.upload(project, "a", "v5", FILES, role="uploader")
    assert api.call("POST", f"/probation/reject/{project}/a/v5", "uploader").status_code == 200
    assert api.json(f"{project}/..usage")["total"] == usage
    assert f"{project}/a/v5/" not in api.listing(f"{project}/a/")
