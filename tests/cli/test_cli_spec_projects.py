"""Projects declared in a spec: ``check --url`` reports missing ones, ``publish`` creates them (admins)."""

from __future__ import annotations

from pathlib import Path

from gypsum_flows import client


def write_spec(tmp_path: Path, declared: str, undeclared: str | None = None) -> Path:
    (tmp_path / "data").mkdir(exist_ok=True)
    (tmp_path / "data" / "x.txt").write_text("x")
    extra = f"  - {{project: {undeclared}, asset: b, version: v1, directory: data}}\n" if undeclared else ""
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        "projects:\n"
        f"  - name: {declared}\n    owners: [owner-user]\n    uploaders: [{{id: trusted-user, trusted: true}}]\n"
        "defaults: {metadata: null}\n"
        f"assets:\n  - {{project: {declared}, asset: a, version: v1, directory: data}}\n{extra}"
    )
    return spec


def test_check_url_reports_missing_projects(gypsum_server, unique_name, tmp_path, cli):
    declared, undeclared = unique_name("decl"), unique_name("undecl")
    res = cli("check", str(write_spec(tmp_path, declared, undeclared)), "--url", gypsum_server.url)
    assert res.code == 1
    assert f"project '{declared}' does not exist on {gypsum_server.url}: publish will create it" in res.out
    assert f"project '{undeclared}' does not exist on {gypsum_server.url}: publish will fail" in res.out
    res = cli("check", str(write_spec(tmp_path, declared)), "--url", gypsum_server.url)
    assert res.code == 0
    assert declared not in client.list_projects(url=gypsum_server.url)


def test_spec_projects_are_checked(tmp_path, cli):
    spec = write_spec(tmp_path, "..bad")
    res = cli("check", str(spec))
    assert res.code == 1 and "projects[0].name" in res.err and "cannot start with '..'" in res.err
    spec.write_text("projects:\n  - {name: p}\nassets:\n  - {project: p, asset: a, version: v, directory: .}\n")
    res = cli("check", str(spec))
    assert res.code == 1 and "owners" in res.err


def test_publish_creates_declared_projects_with_an_admin_token(
    gypsum_server, unique_name, tmp_path, cli, prefect_harness
):
    declared = unique_name("decl")
    spec = str(write_spec(tmp_path, declared))
    conn = ["--url", gypsum_server.url, "--token-env", "CLI_TOKEN"]
    res = cli("publish", spec, *conn, token=gypsum_server.tokens["owner"])
    assert res.code == 1 and f"project '{declared}' is declared in the spec but missing" in res.err
    assert "needs an admin's token" in res.err and declared not in client.list_projects(url=gypsum_server.url)
    res = cli("publish", spec, *conn, token=gypsum_server.tokens["admin"])
    assert res.code == 0, res.err
    assert f"created project '{declared}' (owners: owner-user) as the spec declares it" in res.out
    perms = client.fetch_permissions(declared, url=gypsum_server.url)
    assert perms["owners"] == ["owner-user"] and perms["uploaders"] == [{"id": "trusted-user", "trusted": True}]
    assert client.list_versions(declared, "a", url=gypsum_server.url) == ["v1"]
    res = cli("publish", spec, *conn, token=gypsum_server.tokens["admin"])
    assert res.code == 0 and "created project" not in res.out and "1 unchanged" in res.out


def test_publish_into_an_undeclared_missing_project(gypsum_server, unique_name, tmp_path, cli):
    declared, undeclared = unique_name("decl"), unique_name("undecl")
    res = cli(
        "publish",
        str(write_spec(tmp_path, declared, undeclared)),
        "--url",
        gypsum_server.url,
        "--token-env",
        "CLI_TOKEN",
        token=gypsum_server.tokens["admin"],
    )
    assert res.code == 1
    assert (
        f"project '{undeclared}' does not exist: create it with 'gypsum-flows project create {undeclared}" in res.err
        and "or declare it under 'projects:'" in res.err
    )
    assert declared not in client.list_projects(url=gypsum_server.url)
