"""The permission matrix: every mutating endpoint against every kind of caller."""

from __future__ import annotations

import base64
import json
import uuid

import pytest
from server_helpers import assert_error, file_entries

ROLES = [
    "anonymous",
    "wrong",
    "session",
    "stranger",
    "uploader",
    "trusted",
    "org_member",
    "owner",
    "admin",
    "org_admin",
]
NO_ID = (401, "no user identity supplied")
BAD_TOKEN = (401, "failed to query GitHub for user identity...")
OK = (200, None)


def _expect(denied: tuple[int, str], allowed: set[str], special: dict | None = None) -> dict:
    table = {"anonymous": NO_ID, "wrong": BAD_TOKEN, "session": BAD_TOKEN}
    for role in ROLES[3:]:
        table[role] = OK if role in allowed else denied
    return {**table, **(special or {})}


MANAGERS = {"owner", "admin", "org_admin"}
ADMINS = {"admin", "org_admin"}
UPLOADERS = {"uploader", "trusted", "org_member"} | MANAGERS
NOT_ADMIN = (403, "user is not an administrator")
FILES = {"f.txt": b"hello"}


def _uploaded(api, p, role="owner", **extra):
    api.upload(p, "a", "v1", FILES, role=role, **extra)


def _setup_none(api, p):
    return None


ENDPOINTS = {
    # name: (setup, method, path template, json body, expectations)
    "create": (_setup_none, "POST", "/create/{p}-new", {}, _expect(NOT_ADMIN, ADMINS)),
    "permissions": (
        _setup_none,
        "PUT",
        "/permissions/{p}",
        {"uploaders": []},
        _expect((403, "user does not own project '{p}'"), MANAGERS),
    ),
    "quota": (_setup_none, "PUT", "/quota/{p}", {"baseline": 5}, _expect(NOT_ADMIN, ADMINS)),
    "remove-project": (_uploaded, "DELETE", "/remove/{p}", None, _expect(NOT_ADMIN, ADMINS)),
    "remove-asset": (_uploaded, "DELETE", "/remove/{p}/a", None, _expect(NOT_ADMIN, ADMINS)),
    "remove-version": (_uploaded, "DELETE", "/remove/{p}/a/v1", None, _expect(NOT_ADMIN, ADMINS)),
    "unlock": (_setup_none, "DELETE", "/unlock/{p}", None, _expect(NOT_ADMIN, ADMINS)),
    "refresh-latest": (_uploaded, "POST", "/refresh/latest/{p}/a", None, _expect(NOT_ADMIN, ADMINS)),
    "refresh-usage": (_uploaded, "POST", "/refresh/usage/{p}", None, _expect(NOT_ADMIN, ADMINS)),
    "upload-start": (
        _setup_none,
        "POST",
        "/upload/start/{p}/a/v1",
        {"files": file_entries(FILES)},
        _expect((403, "user is not authorized to upload"), UPLOADERS),
    ),
    "approve": (
        lambda api, p: _uploaded(api, p, "uploader"),
        "POST",
        "/probation/approve/{p}/a/v1",
        None,
        _expect((403, "user is not an owner of project '{p}'"), MANAGERS),
    ),
    "reject": (
        lambda api, p: _uploaded(api, p, "uploader"),
        "POST",
        "/probation/reject/{p}/a/v1",
        None,
        _expect(
            (403, "user is not authorized to upload"),
            UPLOADERS | {"uploader"},
            {
                "trusted": (400, "cannot reject probation for different user"),
                "org_member": (400, "cannot reject probation for different user"),
            },
        ),
    ),
}


def _token(api, role: str) -> dict[str, str]:
    if role == "anonymous":
        return {}
    if role == "wrong":
        return {"Authorization": "Bearer not-a-known-token"}
    if role == "session":
        return {"Authorization": f"Bearer {uuid.uuid4()}"}
    return api.server.auth(role)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", list(ENDPOINTS))
def test_matrix(api, project, name, role):
    setup, method, template, body, expectations = ENDPOINTS[name]
    setup(api, project)
    status, reason = expectations[role]
    kwargs = {"json": body} if body is not None else {}
    res = api.call(method, template.format(p=project), headers=_token(api, role), **kwargs)
    if reason is None:
        assert res.status_code == 200, res.text
    else:
        assert_error(res, status, reason.format(p=project))
        assert api.call("GET", f"/file/{project}%2F..LOCK").status_code == 404  # a refusal never leaves a lock


@pytest.mark.parametrize(
    "entries, asset, version, allowed",
    [
        ([{"asset": "a"}], "a", "v1", True),
        ([{"asset": "a"}], "b", "v1", False),
        ([{"version": "v1"}], "a", "v1", True),
        ([{"version": "v1"}], "a", "v2", False),
        ([{"until": "2000-01-01T00:00:00Z"}], "a", "v1", False),
        ([{"until": "2999-01-01T00:00:00"}], "a", "v1", True),
        ([{"asset": "x"}, {}], "a", "v1", False),  # the first matching entry decides
        ([{}, {"asset": "x"}], "a", "v1", True),
    ],
)
def test_limited_uploader(api, project, entries, asset, version, allowed):
    stranger = api.server.logins["stranger"]
    perms = {"uploaders": [{"id": stranger, **e} for e in entries]}
    assert api.call("PUT", f"/permissions/{project}", "owner", json=perms).status_code == 200
    res = api.start(project, asset, version, file_entries(FILES), role="stranger")
    if allowed:
        assert res.status_code == 200, res.text
        assert api.finish(res.json(), "abort").status_code == 200
    else:
        assert_error(res, 403, "user is not authorized to upload")


@pytest.mark.parametrize(
    "role, asked, stored",
    [
        ("uploader", False, True),
        ("org_member", False, True),
        ("trusted", False, False),
        ("trusted", True, True),
        ("owner", False, False),
        ("admin", True, True),
    ],
)
def test_probation_forced_for_untrusted(api, project, role, asked, stored):
    api.upload(project, "a", "v1", FILES, role=role, on_probation=asked)
    summary = api.json(f"{project}/a/v1/..summary")
    assert summary.get("on_probation", False) is stored
    latest = api.call("GET", f"/file/{project}%2Fa%2F..latest")
    assert latest.status_code == (404 if stored else 200)


@pytest.mark.parametrize(
    "token, status, reason",
    [
        (None, 401, "no user identity supplied"),
        ("github", 403, "session token does not look like a v4 UUID"),
        ("random-uuid", 403, "project was locked for a different upload session"),
        ("foreign", 403, "project was locked for a different upload session"),
        ("other-version", 403, "project was locked for upload of a different version"),
        ("other-asset", 403, "project was locked for upload of a different asset"),
    ],
)
@pytest.mark.parametrize("action", ["presigned", "complete", "abort"])
def test_session_endpoints(api, project, unique_name, action, token, status, reason):
    res = api.start(project, "a", "v1", file_entries(FILES))
    init = res.json()
    headers = {
        None: {},
        "github": api.server.auth("owner"),
        "random-uuid": {"Authorization": f"Bearer {uuid.uuid4()}"},
        "other-version": {"Authorization": f"Bearer {init['session_token']}"},
        "other-asset": {"Authorization": f"Bearer {init['session_token']}"},
    }.get(token)
    if token == "foreign":
        other = unique_name("other")
        assert api.create(other, permissions={"owners": [api.server.logins["owner"]]}).status_code == 200
        foreign = api.start(other, "a", "v1", file_entries(FILES)).json()
        headers = {"Authorization": f"Bearer {foreign['session_token']}"}
    target = {"other-version": (project, "a", "v2"), "other-asset": (project, "b", "v1")}.get(token)
    if action == "presigned":
        path = init["file_urls"][0]["url"]
        if target:
            slug = base64.b64encode(json.dumps([*target, "f.txt", file_entries(FILES)[0]["md5sum"]]).encode())
            path = "/upload/presigned-file/" + slug.decode()
    else:
        path = f"/upload/{action}/" + "/".join(target or (project, "a", "v1"))
    assert_error(api.call("POST", path, headers=headers), status, reason)
    assert api.finish(init, "abort").status_code == 200


def test_session_endpoints_without_lock(api, project):
    init = api.start(project, "a", "v1", file_entries(FILES)).json()
    assert api.finish(init, "abort").status_code == 200
    for path in (init["file_urls"][0]["url"], init["complete_url"], init["abort_url"]):
        res = api.call("POST", path, token=init["session_token"])
        assert_error(res, 403, "project has not been previously locked for upload")
