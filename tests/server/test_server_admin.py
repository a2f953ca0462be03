"""Project administration endpoints: success shapes and every documented error."""

from __future__ import annotations

import datetime

import pytest
from server_helpers import assert_error

FILES = {"f.txt": b"12345"}


def test_create_defaults_and_shapes(api, unique_name):
    project = unique_name()
    res = api.create(
        project,
        permissions={"owners": ["x"], "uploaders": [{"id": "y", "trusted": True}], "extra": 1},
        quota={"baseline": 7, "other": 3},
    )
    assert res.status_code == 200 and res.content == b""
    assert api.json(f"{project}/..permissions") == {"owners": ["x"], "uploaders": [{"id": "y", "trusted": True}]}
    year = datetime.datetime.now(datetime.timezone.utc).year
    assert api.json(f"{project}/..quota") == {"baseline": 7, "growth_rate": 20 * 10**9, "year": year}
    assert api.json(f"{project}/..usage") == {"total": 0}
    empty = unique_name("empty")
    assert api.create(empty).status_code == 200
    assert api.json(f"{empty}/..permissions") == {"owners": [], "uploaders": []}


@pytest.mark.parametrize(
    "path, body, status, reason",
    [
        ("/create/a%2Fb", {}, 400, "project name cannot contain '/'"),
        ("/create/..x", {}, 400, "project name cannot start with '..'"),
        ("/create/%2E", {}, 400, "project name cannot be '.'"),
        ("/create/{p}", '{"quota": {"baseline": NaN}}', 400, "failed to parse JSON body; NaN is not valid JSON"),
        ("/create/{p}", "[1]", 400, "expected a JSON object in the request body"),
        ("/create/{p}", "{", 400, "failed to parse JSON body; ..."),
        ("/create/{p}", {"permissions": []}, 400, "expected permissions to be a JSON object"),
        ("/create/{p}", {"permissions": {"owners": "x"}}, 400, "expected 'owners' to be an array"),
        ("/create/{p}", {"permissions": {"owners": [1]}}, 400, "expected 'owners' to be an array of strings"),
        ("/create/{p}", {"permissions": {"uploaders": {}}}, 400, "expected 'uploaders' to be an array"),
        ("/create/{p}", {"permissions": {"uploaders": [1]}}, 400, "expected 'uploaders' to be an array of objects"),
        ("/create/{p}", {"permissions": {"uploaders": [{}]}}, 400, "expected 'uploaders.id' property to be a string"),
        (
            "/create/{p}",
            {"permissions": {"uploaders": [{"id": "u", "until": "2024-01-01"}]}},
            400,
            "expected 'uploaders.until' property to be a date/time-formatted string",
        ),
        (
            "/create/{p}",
            {"permissions": {"uploaders": [{"id": "u", "until": "2024-13-45T99:00:00"}]}},
            400,
            "expected 'uploaders.until' property to be a date/time-formatted string",
        ),
        (
            "/create/{p}",
            {"permissions": {"uploaders": [{"id": "u", "trusted": "yes"}]}},
            400,
            "expected 'uploaders.trusted' property to be a boolean",
        ),
        (
            "/create/{p}",
            {"permissions": {"uploaders": [{"id": "u", "asset": 1}]}},
            400,
            "expected 'asset' property to be a string",
        ),
        (
            "/create/{p}",
            {"permissions": {"uploaders": [{"id": "u", "version": 1}]}},
            400,
            "expected 'version' property to be a string",
        ),
        ("/create/{p}", {"quota": 5}, 400, "expected quota specification to be a JSON object"),
        ("/create/{p}", {"quota": {"baseline": "1"}}, 400, "expected 'baseline' to be a number"),
        ("/create/{p}", {"quota": {"growth_rate": -1}}, 400, "expected 'growth_rate' to be a non-negative number"),
        ("/create/{p}", {"quota": {"year": True}}, 400, "expected 'year' to be a number"),
    ],
)
def test_create_errors(api, unique_name, path, body, status, reason):
    project = unique_name()
    kwargs = {"data": body} if isinstance(body, str) else {"json": body}
    assert_error(api.call("POST", path.format(p=project), "admin", **kwargs), status, reason)
    assert api.listing(f"{project}/") == []


def test_create_existing(api, project):
    assert_error(api.create(project), 400, f"project '{project}' already exists")


def test_permissions_replace_whole_keys(api, project):
    res = api.call("PUT", f"/permissions/{project}", "owner", json={"owners": ["a", "owner-user"], "junk": 1})
    assert res.status_code == 200 and res.content == b""
    perms = api.json(f"{project}/..permissions")
    assert perms["owners"] == ["a", "owner-user"] and len(perms["uploaders"]) == 3 and "junk" not in perms
    assert api.call("PUT", f"/permissions/{project}", "owner", json={"uploaders": []}).status_code == 200
    assert api.json(f"{project}/..permissions") == {"owners": ["a", "owner-user"], "uploaders": []}


def test_permissions_errors(api, project, unique_name):
    missing = unique_name("missing")
    res = api.call("PUT", f"/permissions/{missing}", "owner", json={})
    assert_error(res, 404, f"project '{missing}' does not exist")
    res = api.call("PUT", f"/permissions/{project}", "owner", data="nope")
    assert_error(res, 400, "failed to parse JSON body; ...")
    assert_error(
        api.call("PUT", f"/permissions/{project}", "owner", json=[]), 400, "expected permissions to be a JSON object"
    )


def test_quota(api, project, unique_name):
    res = api.call("PUT", f"/quota/{project}", "admin", json={"baseline": 1, "year": 2020, "unknown": 5})
    assert res.status_code == 200 and res.content == b""
    quota = api.json(f"{project}/..quota")
    assert quota["baseline"] == 1 and quota["year"] == 2020 and "unknown" not in quota
    assert_error(api.call("PUT", f"/quota/{unique_name('x')}", "admin", json={}), 400, "project does not exist")
    assert_error(
        api.call("PUT", f"/quota/{project}", "admin", json={"baseline": -5}),
        400,
        "expected 'baseline' to be a non-negative number",
    )


def test_remove_version_recomputes_latest_and_usage(api, project):
    api.upload(project, "a", "v1", FILES)
    api.upload(project, "a", "v2", {"g.txt": b"123"})
    api.upload(project, "a", "v3", {"h.txt": b"1"}, role="uploader")  # probational: never latest
    assert api.json(f"{project}/..usage") == {"total": 9}
    assert api.call("DELETE", f"/remove/{project}/a/v2", "admin").status_code == 200
    assert api.json(f"{project}/a/..latest") == {"version": "v1"}
    assert api.json(f"{project}/..usage") == {"total": 6}
    assert api.call("DELETE", f"/remove/{project}/a/v1", "admin").status_code == 200
    assert api.call("GET", f"/file/{project}%2Fa%2F..latest").status_code == 404
    logs = [api.json(k) for k in api.listing("..logs/", recursive=True)]
    assert {"type": "delete-version", "project": project, "asset": "a", "version": "v2", "latest": True} in logs
    assert api.call("DELETE", f"/remove/{project}/a", "admin").status_code == 200
    assert api.listing(f"{project}/") == [f"{project}/..permissions", f"{project}/..quota", f"{project}/..usage"]
    assert api.json(f"{project}/..usage") == {"total": 0}
    assert {"type": "delete-asset", "project": project, "asset": "a"} in [
        api.json(k) for k in api.listing("..logs/", recursive=True)
    ]


def test_remove_project(api, project, unique_name):
    api.upload(project, "a", "v1", FILES)
    assert api.call("DELETE", f"/remove/{project}", "admin").status_code == 200
    assert api.listing(f"{project}/", recursive=True) == []
    assert f"{project}/" not in api.listing()
    assert api.call("DELETE", f"/remove/{unique_name('never')}", "admin").status_code == 200
    assert {"type": "delete-project", "project": project} in [
        api.json(k) for k in api.listing("..logs/", recursive=True)
    ]


def test_remove_missing_usage_is_500(api, unique_name):
    missing = unique_name("missing")
    assert_error(api.call("DELETE", f"/remove/{missing}/a", "admin"), 500, f"no file at '{missing}/..usage'")
    assert_error(api.call("DELETE", f"/remove/{missing}/a/v", "admin"), 500, f"no file at '{missing}/..usage'")
    assert api.listing(f"{missing}/", recursive=True) == []


def test_locked_project_refuses_other_operations(api, project):
    init = api.start(project, "a", "v1", [{"type": "simple", "path": "x", "md5sum": "0" * 32, "size": 1}]).json()
    lock = api.json(f"{project}/..LOCK")
    assert lock["asset"] == "a" and lock["version"] == "v1" and len(lock["session_hash"]) == 44
    for method, path in [
        ("DELETE", f"/remove/{project}"),
        ("DELETE", f"/remove/{project}/a"),
        ("POST", f"/refresh/latest/{project}/a"),
        ("POST", f"/refresh/usage/{project}"),
    ]:
        assert_error(api.call(method, path, "admin"), 403, "project asset has already been locked")
    assert_error(api.start(project, "b", "v1", []), 403, "project asset has already been locked")
    assert api.call("DELETE", f"/unlock/{project}", "admin").status_code == 200
    assert api.call("GET", f"/file/{project}%2F..LOCK").status_code == 404
    assert_error(api.finish(init), 403, "project has not been previously locked for upload")
    assert api.call("DELETE", f"/unlock/{project}", "admin").status_code == 200  # no lock: still 200


def test_refresh(api, project, unique_name):
    api.upload(project, "a", "v1", FILES)
    api.upload(project, "a", "v2", FILES)
    assert api.call("POST", f"/refresh/latest/{project}/a", "admin").json() == {"version": "v2"}
    assert api.call("POST", f"/refresh/latest/{project}/nothing", "admin").json() == {}
    assert api.call("POST", f"/refresh/usage/{project}", "admin").json() == {"total": 10}
    missing = unique_name("missing")
    assert_error(api.call("POST", f"/refresh/latest/{missing}/a", "admin"), 400, "project does not exist")
    assert_error(api.call("POST", f"/refresh/usage/{missing}", "admin"), 400, "project does not exist")


def _log_name(days_ago: float, suffix: int) -> str:
    when = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=days_ago)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z_{suffix}"


def _remove_a_project(api, unique_name) -> None:
    """An action that writes one log entry."""
    project = unique_name()
    assert api.create(project).status_code == 200
    assert api.call("DELETE", f"/remove/{project}", "admin").status_code == 200


def test_log_entries_older_than_seven_days_are_purged_once_a_day(fresh_api, unique_name):
    """As the reference's daily job: the first entry a server logs also deletes those over 7 days old,
    and the next purge waits a day."""
    logs = fresh_api.server.root / "..logs"
    logs.mkdir(parents=True, exist_ok=True)
    stale, recent = _log_name(7.1, 111111), _log_name(6.9, 222222)
    for name in (stale, recent):
        (logs / name).write_text('{"type": "delete-project", "project": "old"}')

    _remove_a_project(fresh_api, unique_name)
    after = fresh_api.listing("..logs/", recursive=True)
    assert f"..logs/{stale}" not in after and f"..logs/{recent}" in after
    assert len(after) == 2  # the recent one and the removal just logged

    later = _log_name(30, 333333)  # appears after the day's purge: kept until the next one
    (logs / later).write_text('{"type": "delete-project", "project": "old"}')
    _remove_a_project(fresh_api, unique_name)
    assert f"..logs/{later}" in fresh_api.listing("..logs/", recursive=True)
