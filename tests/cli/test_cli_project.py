"""``gypsum-flows project ...`` against the local server: each action, and the errors people meet."""

from __future__ import annotations

import pytest

from gypsum_flows import client


def conn(server) -> list[str]:
    return ["--url", server.url, "--token-env", "CLI_TOKEN"]


def test_create_with_uploaders_and_quota(gypsum_server, unique_name, cli):
    name = unique_name("cli")
    res = cli(
        "project",
        "create",
        name,
        "--owner",
        "owner-user",
        "--uploader",
        "untrusted-user",
        "--uploader",
        "trusted-user:trusted",
        "--quota",
        "2GB",
        "--growth-rate",
        "1GiB",
        "--year",
        "2030",
        *conn(gypsum_server),
        token=gypsum_server.tokens["admin"],
    )
    assert res.code == 0, res.err
    assert f"created project '{name}'" in res.out
    perms = client.fetch_permissions(name, url=gypsum_server.url)
    assert perms["owners"] == ["owner-user"]
    assert [(u["id"], u.get("trusted", False)) for u in perms["uploaders"]] == [
        ("untrusted-user", False),
        ("trusted-user", True),
    ]
    assert client.fetch_quota(name, url=gypsum_server.url) == {
        "baseline": 2 * 10**9,
        "growth_rate": 2**30,
        "year": 2030,
    }


def test_permissions_show_and_add(gypsum_server, admin_project, cli):
    res = cli("project", "permissions", admin_project, "--url", gypsum_server.url)
    assert res.code == 0 and "owners: owner-user" in res.out and "uploaders: (none)" in res.out
    res = cli(
        "project",
        "permissions",
        admin_project,
        "--add-uploader",
        "stranger:trusted",
        "--json",
        *conn(gypsum_server),
        token=gypsum_server.tokens["owner"],
    )
    assert res.code == 0, res.err
    assert res.json()["uploaders"] == [{"id": "stranger", "trusted": True}]


def test_quota_usage_unlock_remove(gypsum_server, admin_project, cli, tmp_path):
    admin = gypsum_server.tokens["admin"]
    res = cli("project", "quota", admin_project, "--set", "5GB", "--json", *conn(gypsum_server), token=admin)
    assert res.code == 0 and res.json()["baseline"] == 5 * 10**9
    (tmp_path / "f.txt").write_text("hello")
    client.upload_directory(
        str(tmp_path), admin_project, "a", "v1", url=gypsum_server.url, token=gypsum_server.tokens["owner"]
    )
    res = cli("project", "usage", admin_project, "--refresh", "--json", *conn(gypsum_server), token=admin)
    assert res.code == 0 and res.json() == {"project": admin_project, "total": 5}
    client.start_upload(
        admin_project,
        "a",
        "v2",
        ["f.txt"],
        directory=str(tmp_path),
        url=gypsum_server.url,
        token=gypsum_server.tokens["owner"],
    )
    res = cli("project", "unlock", admin_project, *conn(gypsum_server), token=admin)
    assert res.code == 0 and "unlocked" in res.out
    assert "..LOCK" not in "".join(client.list_files(admin_project, "a", "v1", url=gypsum_server.url))
    res = cli("project", "remove", admin_project, *conn(gypsum_server), token=admin)
    assert res.code == 1 and "add --yes" in res.err
    res = cli("project", "remove", admin_project, "--yes", *conn(gypsum_server), token=admin)
    assert res.code == 0 and admin_project not in client.list_projects(url=gypsum_server.url)


def test_no_token(gypsum_server, unique_name, cli, monkeypatch, tmp_path):
    monkeypatch.setenv("GYPSUM_CACHE_DIR", str(tmp_path / "empty-cache"))
    res = cli("project", "create", unique_name("cli"), "--owner", "x", "--url", gypsum_server.url)
    assert res.code == 1
    assert "no token found" in res.err and "GYPSUM_TOKEN" in res.err and "gypsum-flows login" in res.err
    res = cli("project", "create", unique_name("cli"), "--owner", "x", *conn(gypsum_server))
    assert res.code == 1 and "--token-env CLI_TOKEN: that environment variable is empty or unset" in res.err


@pytest.mark.parametrize(
    "action",
    [["create", "--owner", "x"], ["quota", "--set", "1GB"], ["unlock"], ["remove", "--yes"], ["usage", "--refresh"]],
)
def test_not_an_admin(gypsum_server, admin_project, unique_name, cli, action):
    name = unique_name("cli") if action[0] == "create" else admin_project
    res = cli("project", action[0], name, *action[1:], *conn(gypsum_server), token=gypsum_server.tokens["owner"])
    assert res.code == 1
    assert "403 user is not an administrator" in res.err
    if action[0] == "create":
        assert name not in client.list_projects(url=gypsum_server.url)


@pytest.mark.parametrize("action", [["permissions"], ["quota"], ["usage"], ["unlock"], ["remove", "--yes"]])
def test_missing_project_says_how_to_create_it(gypsum_server, unique_name, cli, action):
    name = unique_name("nope")
    res = cli("project", action[0], name, *action[1:], *conn(gypsum_server), token=gypsum_server.tokens["admin"])
    assert res.code == 1
    assert (
        f"project '{name}' does not exist: create it with 'gypsum-flows project create {name} --owner LOGIN'" in res.err
    )
    assert "needs an admin's token" in res.err


@pytest.mark.parametrize("name", ["..hidden", "a/b", ""])
def test_bad_names_are_refused_before_any_request(fresh_gypsum_server, cli, name):
    res = cli(
        "project", "create", name, "--owner", "x", *conn(fresh_gypsum_server), token=fresh_gypsum_server.tokens["admin"]
    )
    assert res.code == 1 and "project name cannot" in res.err
    assert fresh_gypsum_server.request_log == []


@pytest.mark.parametrize("args", [["--uploader", "bob:sometimes"], ["--quota", "lots"]])
def test_bad_flags(gypsum_server, cli, args):
    res = cli("project", "create", "p", "--owner", "x", *args, "--url", gypsum_server.url)
    assert res.code == 2 and ("LOGIN or LOGIN:trusted" in res.err or "not a size" in res.err)


def test_version_flag(cli):
    from gypsum_flows import __version__

    res = cli("--version")
    assert res.code == 0 and res.out.strip() == f"gypsum-flows {__version__}"
