"""Offline mode: with the server stopped and GYPSUM_OFFLINE=1, the cache answers and no socket is opened."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from gypsum_flows import client
from gypsum_flows.errors import GypsumOfflineError, is_transient
from gypsum_flows.server import serve_in_thread
from gypsum_flows.server.users import admin_token

#: Run in a child process whose every socket connection (and name lookup) raises and is counted.
CHILD = textwrap.dedent("""
    import json, sys
    attempts = []
    def no_network(event, args):
        if event in ("socket.connect", "socket.getaddrinfo", "socket.sendto"):
            attempts.append(event)
            raise OSError(f"network used in offline mode: {event} {args!r}")
    sys.addaudithook(no_network)

    import time
    from gypsum_flows import client
    from gypsum_flows.errors import GypsumOfflineError

    P, url, folder = sys.argv[1], sys.argv[2], sys.argv[3]
    out = {}
    path = client.save_version(P, "a", "v2", url=url)
    out["file"] = open(path + "/data.txt").read()
    out["manifest"] = sorted(client.fetch_manifest(P, "a", "v2", url=url))
    out["summary_user"] = client.fetch_summary(P, "a", "v2", url=url)["upload_user_id"]
    out["latest"] = client.fetch_latest(P, "a", url=url)
    out["versions"] = client.list_versions(P, "a", url=url)
    out["assets"] = client.list_assets(P, url=url)
    out["projects"] = client.list_projects(url=url)
    out["files"] = client.list_files(P, "a", "v2", include_dot=False, url=url)
    for name, call in [
        ("uncached", lambda: client.save_version(P, "a", "v1", url=url)),
        ("upload", lambda: client.upload_directory(folder, P, "a", "v9", url=url, token="t")),
        ("no_asset", lambda: client.fetch_latest(P, "nothing-cached", url=url)),
        ("admin", lambda: client.create_project("x", owners="y", url=url, token="t")),
    ]:
        start = time.monotonic()
        try:
            call()
            out[name] = "no error"
        except GypsumOfflineError as exc:
            out[name] = [str(exc), time.monotonic() - start]
    out["attempts"] = attempts
    print(json.dumps(out))
""")


@pytest.fixture
def cached_then_stopped(tmp_path, monkeypatch):
    """A project with v1 and v2 (v2 saved in a private cache), on a server that is then stopped."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("GYPSUM_CACHE_DIR", str(cache))
    server = serve_in_thread(tmp_path / "root")
    try:
        admin = admin_token(server.users_file)
        client.create_project("offline-p", owners="local-admin", url=server.url, token=admin)
        for version in ("v1", "v2"):
            (tmp_path / version).mkdir()
            (tmp_path / version / "data.txt").write_text(f"data of {version}\n")
            client.upload_directory(str(tmp_path / version), "offline-p", "a", version, url=server.url, token=admin)
        client.save_version("offline-p", "a", "v2", url=server.url)
    finally:
        server.stop()
    return server.url, cache, tmp_path / "v1"


def test_offline_answers_from_the_cache_without_opening_a_socket(cached_then_stopped, monkeypatch):
    url, cache, folder = cached_then_stopped
    env = {
        "GYPSUM_OFFLINE": "1",
        "GYPSUM_CACHE_DIR": str(cache),
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": ":".join(sys.path),
    }
    run = subprocess.run(
        [sys.executable, "-c", CHILD, "offline-p", url, str(folder)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert out["attempts"] == []
    assert out["file"] == "data of v2\n" and out["manifest"] == ["data.txt"] and out["summary_user"] == "local-admin"
    assert out["latest"] == "v2" and out["versions"] == ["v2"] and out["assets"] == ["a"]
    assert out["projects"] == ["offline-p"] and out["files"] == ["data.txt"]
    for name in ("uncached", "upload", "admin"):
        message, seconds = out[name]
        assert message.startswith("offline (GYPSUM_OFFLINE is set): did not ") and seconds < 5, name
    assert (
        "the cache at" in out["no_asset"][0]
        and "holds no settled version of offline-p/nothing-cached" in out["no_asset"][0]
    )


def test_offline_keyword_and_errors(cached_then_stopped, monkeypatch):
    url, cache, _ = cached_then_stopped
    assert client.fetch_latest("offline-p", "a", url=url, offline=True) == "v2"
    assert client.list_versions("offline-p", "a", url=url, offline=True) == ["v2"]
    with pytest.raises(GypsumOfflineError, match="holds no asset of project 'nope'"):
        client.list_assets("nope", url=url, offline=True)
    monkeypatch.setenv("GYPSUM_OFFLINE", "1")
    with pytest.raises(GypsumOfflineError) as info:
        client.fetch_permissions("offline-p", url=url)
    assert not is_transient(info.value)  # task retries do not wait on it
