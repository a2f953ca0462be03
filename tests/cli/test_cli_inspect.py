"""``versions``, ``probation``, ``login``/``whoami`` and ``server --print-token`` against the local server."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
import yaml

from gypsum_flows import client


@pytest.fixture
def published(gypsum_server, admin_project, tmp_path) -> str:
    """``a/v1`` published, ``a/v2`` and ``a/v3`` on probation, in ``admin_project``."""
    (tmp_path / "f.txt").write_text("x")
    for version, probation in (("v1", False), ("v2", True), ("v3", True)):
        client.upload_directory(
            str(tmp_path),
            admin_project,
            "a",
            version,
            probation=probation,
            url=gypsum_server.url,
            token=gypsum_server.tokens["owner"],
        )
    return admin_project


def test_versions_show_latest_and_probation(gypsum_server, published, cli):
    res = cli("versions", published, "--url", gypsum_server.url, "--json")
    assert res.code == 0, res.err
    rows = {r["version"]: r for r in res.json()}
    assert {v: (r["latest"], r["state"], r["uploader"]) for v, r in rows.items()} == {
        "v1": (True, "published", "owner-user"),
        "v2": (False, "probation", "owner-user"),
        "v3": (False, "probation", "owner-user"),
    }
    text = cli("versions", published, "a", "--url", gypsum_server.url).out
    assert re.search(r"^a\s+v1\s+\*\s+published\s+owner-user", text, re.M), text


def test_versions_errors(gypsum_server, published, unique_name, cli):
    res = cli("versions", published, "nope", "--url", gypsum_server.url)
    assert res.code == 1 and f"project '{published}' has no asset 'nope' (its assets: a)" in res.err
    missing = unique_name("nope")
    res = cli("versions", missing, "--url", gypsum_server.url)
    assert res.code == 1 and f"gypsum-flows project create {missing}" in res.err
    res = cli("versions", "..x", "--url", gypsum_server.url)
    assert res.code == 1 and "project name cannot start with '..'" in res.err


def test_probation_approve_and_reject(gypsum_server, published, cli):
    conn = ["--url", gypsum_server.url, "--token-env", "CLI_TOKEN"]
    res = cli("probation", "approve", published, "a", "v3", *conn, token=gypsum_server.tokens["owner"])
    assert res.code == 0 and "approved" in res.out
    assert client.fetch_latest(published, "a", url=gypsum_server.url) == "v3"
    res = cli("probation", "reject", published, "a", "v2", *conn, token=gypsum_server.tokens["owner"])
    assert res.code == 0 and client.list_versions(published, "a", url=gypsum_server.url) == ["v1", "v3"]
    res = cli("probation", "approve", published, "a", "v1", *conn, token=gypsum_server.tokens["owner"])
    assert res.code == 1 and "is not on probation" in res.err
    res = cli("probation", "approve", published, "a", "v9", *conn, token=gypsum_server.tokens["owner"])
    assert res.code == 1 and "version 'v9' of" in res.err and "(its versions: v1, v3)" in res.err


def test_probation_needs_an_owner(gypsum_server, published, cli):
    res = cli(
        "probation",
        "approve",
        published,
        "a",
        "v2",
        "--url",
        gypsum_server.url,
        "--token-env",
        "CLI_TOKEN",
        token=gypsum_server.tokens["stranger"],
    )
    assert res.code == 1 and "403" in res.err
    assert client.fetch_summary(published, "a", "v2", url=gypsum_server.url, cache_dir=False)["on_probation"]


def test_login_then_whoami(gypsum_server, cli, tmp_path, monkeypatch):
    cache = str(tmp_path / "cache")
    monkeypatch.delenv("GYPSUM_TOKEN", raising=False)
    res = cli("whoami", "--url", gypsum_server.url, "--cache-dir", cache)
    assert res.code == 1 and "gypsum-flows login" in res.err
    res = cli(
        "login",
        "--url",
        gypsum_server.url,
        "--cache-dir",
        cache,
        "--token-env",
        "CLI_TOKEN",
        token=gypsum_server.tokens["trusted"],
    )
    assert res.code == 0 and "logged in as trusted-user" in res.out
    assert gypsum_server.tokens["trusted"] not in res.out + res.err
    assert open(f"{cache}/credentials/token.txt").read().splitlines()[:2] == [
        gypsum_server.tokens["trusted"],
        "trusted-user",
    ]
    res = cli("whoami", "--url", gypsum_server.url, "--cache-dir", cache)
    assert res.code == 0 and res.out.strip() == "trusted-user"
    res = cli("login", "--logout", "--cache-dir", cache)
    assert res.code == 0 and not (tmp_path / "cache" / "credentials" / "token.txt").exists()


def test_login_with_a_bad_token(gypsum_server, cli, tmp_path):
    res = cli(
        "login",
        "--url",
        gypsum_server.url,
        "--cache-dir",
        str(tmp_path),
        "--token-env",
        "CLI_TOKEN",
        token="not-a-token",
    )
    assert res.code == 1 and "did not accept the token" in res.err and "users file" in res.err
    assert "not-a-token" not in res.err


def test_a_401_from_a_local_server_points_to_its_users_file(gypsum_server, admin_project, cli):
    res = cli("project", "unlock", admin_project, "--url", gypsum_server.url, "--token-env", "CLI_TOKEN", token="wrong")
    assert res.code == 1 and "401" in res.err
    assert "users file" in res.err and "--print-token" in res.err


def gf(*args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "gypsum_flows", *args], capture_output=True, text=True, cwd=cwd, timeout=120
    )


def test_server_print_token_generates_then_reuses(tmp_path):
    first = gf("server", "--root", "reg", "--print-token", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    users = tmp_path / "reg.state" / "users.yaml"
    assert first.stderr.startswith(f"generated users file (one admin and its token): {users}")
    assert first.stdout.strip() == yaml.safe_load(users.read_text())["users"][0]["token"]
    again = gf("server", "--root", "reg", "--print-token", cwd=tmp_path)
    assert again.stdout == first.stdout and again.stderr.startswith(f"reusing users file: {users}")


def test_server_print_token_of_an_explicit_users_file(gypsum_server, tmp_path):
    res = gf("server", "--root", "reg", "--users", str(gypsum_server.users_file), "--print-token", cwd=tmp_path)
    assert res.returncode == 0 and res.stdout.strip() == gypsum_server.tokens["admin"]
    assert not (tmp_path / "reg.state").exists()
