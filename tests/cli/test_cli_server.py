"""``gypsum-flows server`` as a real subprocess: startup line, signals, users file, restart."""

from __future__ import annotations

import re
import signal
import subprocess
import sys

import pytest
import requests
import yaml


def start(*args: str) -> tuple[subprocess.Popen, str, list[str]]:
    """Start the command; returns (process, url, lines printed before the URL)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "gypsum_flows", "server", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines = []
    for line in proc.stdout:
        lines.append(line)
        match = re.match(r"gypsum server listening on (http://\S+)$", line.strip())
        if match:
            return proc, match.group(1), lines
    proc.wait(10)
    raise AssertionError(f"no URL printed: {lines} {proc.stderr.read()}")


def stop(proc: subprocess.Popen, sig: int) -> str:
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
    return out + err


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_serves_and_stops_on_signal(tmp_path, sig):
    root = tmp_path / "registry"
    proc, url, lines = start("--root", str(root), "--port", "0")
    try:
        users_file = re.search(r"generated users file .*: (\S+)", "".join(lines)).group(1)
        doc = yaml.safe_load(open(users_file))
        token = doc["users"][0]["token"]
        assert doc["admins"] == [doc["users"][0]["login"]]
        assert not users_file.startswith(str(root) + "/")
        assert requests.get(url + "/list").json() == []
        res = requests.post(url + "/create/demo", json={}, headers={"Authorization": f"Bearer {token}"})
        assert res.status_code == 200
    finally:
        rest = stop(proc, sig)
    assert "gypsum server stopped" in rest
    assert token not in "".join(lines) + rest
    assert (root / "demo" / "..permissions").is_file()


def test_restart_keeps_everything(tmp_path):
    root = tmp_path / "registry"
    proc, url, lines = start("--root", str(root), "--port", "0")
    users_file = re.search(r"generated users file .*: (\S+)", "".join(lines)).group(1)
    token = yaml.safe_load(open(users_file))["users"][0]["token"]
    auth = {"Authorization": f"Bearer {token}"}
    try:
        assert requests.post(url + "/create/kept", json={}, headers=auth).status_code == 200
    finally:
        stop(proc, signal.SIGTERM)
    proc, url, _ = start("--root", str(root), "--port", "0")
    try:
        assert requests.get(url + "/list").json() == ["kept/"]
        assert requests.post(url + "/refresh/usage/kept", headers=auth).json() == {"total": 0}
    finally:
        stop(proc, signal.SIGTERM)


def test_non_loopback_needs_users_file(tmp_path):
    res = subprocess.run(
        [sys.executable, "-m", "gypsum_flows", "server", "--root", str(tmp_path / "r"), "--host", "0.0.0.0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 1
    assert "binding to 0.0.0.0 (not loopback) needs an explicit users file (--users)" in res.stderr
    assert not (tmp_path / "r").exists()


def test_explicit_users_file_and_metadata(tmp_path, gypsum_server):
    meta = tmp_path / "meta"
    meta.mkdir()
    (meta / "modified").write_text("123")
    proc, url, lines = start(
        "--root",
        str(tmp_path / "r"),
        "--port",
        "0",
        "--users",
        str(gypsum_server.users_file),
        "--metadata-dir",
        str(meta),
    )
    try:
        assert not any("generated users file" in line for line in lines)
        assert requests.get(url + "/github/user", headers=gypsum_server.auth("owner")).json()["login"] == "owner-user"
        assert requests.get(url + "/metadata/modified").text == "123"
    finally:
        stop(proc, signal.SIGTERM)
