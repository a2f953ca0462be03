"""Start-up: users files (clear errors, the generated one), refused configurations, a busy port."""

from __future__ import annotations

import re
import stat

import pytest

from gypsum_flows.server import generate_users_file, load_users, serve_in_thread


@pytest.mark.parametrize(
    "text, message",
    [
        ("- just a list", "expected a mapping with 'admins' and 'users'"),
        ("admins: alice", "'admins' must be a list of logins or organizations"),
        ("users: {a: 1}", "'users' must be a list"),
        ("users: [5]", "users[0]: expected a mapping with 'login', 'token' and 'orgs'"),
        ("users: [{token: t}]", "users[0]: 'login' must be a non-empty string"),
        ("users: [{login: a}]", "users[0]: 'token' must be a non-empty string"),
        ("users: [{login: a, token: t, orgs: x}]", "users[0]: 'orgs' must be a list of strings"),
        ("users: [{login: a, token: t}, {login: b, token: t}]", "two users share a token"),
        ("users: [unclosed", "not valid YAML"),
    ],
)
def test_malformed_users_file(tmp_path, text, message):
    path = tmp_path / "users.yaml"
    path.write_text(text)
    with pytest.raises(ValueError, match=re.escape(message)) as info:
        load_users(path)
    assert str(path) in str(info.value)


def test_generated_users_file_is_private_and_reused(tmp_path):
    path = generate_users_file(tmp_path / "state" / "users.yaml")
    first = load_users(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert generate_users_file(path) == path and load_users(path) == first
    assert "token" not in repr(first.users[0])


def test_users_file_inside_root_is_refused(tmp_path):
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "u.yaml").write_text("users: [{login: a, token: t}]")
    with pytest.raises(ValueError, match="is inside the served root"):
        serve_in_thread(tmp_path / "root", tmp_path / "root" / "u.yaml")


def test_non_loopback_without_users_file(tmp_path):
    with pytest.raises(ValueError, match="needs an explicit users file"):
        serve_in_thread(tmp_path / "root", host="0.0.0.0")


def test_port_in_use(tmp_path, gypsum_server):
    port = int(gypsum_server.url.rsplit(":", 1)[1])
    with pytest.raises(OSError, match=f"cannot listen on 127.0.0.1:{port}: Address already in use"):
        serve_in_thread(tmp_path / "root", gypsum_server.users_file, port=port)


def test_one_server_per_root(tmp_path, gypsum_server):
    first = serve_in_thread(tmp_path / "root", gypsum_server.users_file)
    try:
        with pytest.raises(ValueError, match="another gypsum server is already serving"):
            serve_in_thread(tmp_path / "root", gypsum_server.users_file)
    finally:
        first.stop()
    serve_in_thread(tmp_path / "root", gypsum_server.users_file).stop()  # free again after stop()
