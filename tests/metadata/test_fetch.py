"""fetch_metadata_schema and fetch_metadata_database against real HTTP servers on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import warnings
from pathlib import Path

import pytest

from gypsum_flows.client import metadata
from gypsum_flows.client.metadata import fetch_metadata_database, fetch_metadata_schema, shipped_schema_path
from gypsum_flows.errors import GypsumNotFoundError, GypsumTransientError


@pytest.fixture
def dead_url() -> str:
    """A loopback URL where nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


# --- schema ----------------------------------------------------------------------------------------------


def test_schema_is_downloaded_once_into_the_shared_layout(static_server, tmp_path: Path) -> None:
    (static_server.root / "bioconductor").mkdir()
    (static_server.root / "bioconductor" / "v1.json").write_text('{"type": "object"}')
    path = fetch_metadata_schema(cache_dir=str(tmp_path), url=static_server.url)
    assert path == str(tmp_path / "schemas" / "bioconductor" / "v1.json")
    assert json.loads(Path(path).read_text()) == {"type": "object"}
    assert fetch_metadata_schema(cache_dir=str(tmp_path), url=static_server.url) == path
    assert static_server.hits == {"/bioconductor/v1.json": 1}
    (static_server.root / "bioconductor" / "v1.json").write_text('{"type": "array"}')
    fetch_metadata_schema(cache_dir=str(tmp_path), overwrite=True, url=static_server.url)
    assert json.loads(Path(path).read_text()) == {"type": "array"}


def test_unreachable_schema_server_falls_back_once_to_the_shipped_copy(dead_url: str, tmp_path: Path, caplog) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a plain log line, not a warning with a source line
        paths = [fetch_metadata_schema(cache_dir=str(tmp_path), url=dead_url) for _ in range(50)]
    assert paths == [shipped_schema_path()] * 50
    said = [r for r in caplog.records if "using the copy shipped with gypsum-flows" in r.getMessage()]
    assert len(said) == 1 and said[0].levelname == "WARNING" and "\n" not in said[0].getMessage()
    assert not (tmp_path / "schemas" / "bioconductor" / "v1.json").exists()
    with pytest.raises(GypsumTransientError):
        fetch_metadata_schema("other/v9.json", cache_dir=str(tmp_path), url=dead_url)


def test_missing_or_broken_schema_is_an_error_and_not_cached(static_server, tmp_path: Path) -> None:
    with pytest.raises(GypsumNotFoundError):
        fetch_metadata_schema("nope/v1.json", cache_dir=str(tmp_path), url=static_server.url)
    (static_server.root / "broken.json").write_text("<html>oops</html>")
    with pytest.raises(GypsumTransientError, match="not valid JSON"):
        fetch_metadata_schema("broken.json", cache_dir=str(tmp_path), url=static_server.url)
    assert not (tmp_path / "schemas" / "broken.json").exists()
    assert leftovers(tmp_path / "schemas") == []


# --- database --------------------------------------------------------------------------------------------


def publish(root: Path, content: bytes, stamp: str, name: str = "bioconductor.sqlite3") -> None:
    (root / name).write_bytes(content)
    (root / "modified").write_text(stamp)


def test_database_download_and_hourly_check(static_server, tmp_path: Path, monkeypatch) -> None:
    publish(static_server.root, b"db-1", "1000")
    path = fetch_metadata_database(cache_dir=str(tmp_path), url=static_server.url)
    assert path == str(tmp_path / "databases" / "bioconductor.sqlite3")
    assert Path(path).read_bytes() == b"db-1" and Path(path + ".modified").read_text() == "1000"
    assert static_server.hits == {"/modified": 1, "/bioconductor.sqlite3": 1}

    # Within the hour: no request at all, even if the server has something newer.
    publish(static_server.root, b"db-2", "2000")
    assert fetch_metadata_database(cache_dir=str(tmp_path), url=static_server.url) == path
    assert Path(path).read_bytes() == b"db-1"
    assert static_server.hits == {"/modified": 1, "/bioconductor.sqlite3": 1}

    # An hour later: the stamp differs, so the database is replaced.
    monkeypatch.setattr(metadata, "CHECK_INTERVAL", 0.0)
    assert fetch_metadata_database(cache_dir=str(tmp_path), url=static_server.url) == path
    assert Path(path).read_bytes() == b"db-2" and Path(path + ".modified").read_text() == "2000"
    # Same stamp: checked, not downloaded.
    fetch_metadata_database(cache_dir=str(tmp_path), url=static_server.url)
    assert static_server.hits == {"/modified": 4, "/bioconductor.sqlite3": 2}
    assert leftovers(tmp_path / "databases") == []


def test_failed_check_warns_and_keeps_the_cached_file(static_server, dead_url: str, tmp_path: Path) -> None:
    publish(static_server.root, b"db-1", "1000")
    path = fetch_metadata_database(cache_dir=str(tmp_path), url=static_server.url)
    with pytest.warns(UserWarning, match="failed to check the last modified timestamp"):
        assert fetch_metadata_database(cache_dir=str(tmp_path), url=dead_url) == path
    assert Path(path).read_bytes() == b"db-1"
    # A stamp that is not a number is a failed check too.
    (static_server.root / "modified").write_text("<html>")
    metadata._LAST_CHECK.pop(static_server.url)
    with pytest.warns(UserWarning, match="not a number"):
        assert fetch_metadata_database(cache_dir=str(tmp_path), url=static_server.url) == path


def test_nothing_cached_and_no_server_is_an_error(dead_url: str, tmp_path: Path) -> None:
    with pytest.raises(GypsumTransientError):
        fetch_metadata_database(cache_dir=str(tmp_path), url=dead_url)
    assert not (tmp_path / "databases" / "bioconductor.sqlite3").exists()


def test_failed_download_leaves_the_cache_as_it_was(static_server, tmp_path: Path) -> None:
    publish(static_server.root, b"db-1", "1000")
    path = fetch_metadata_database(cache_dir=str(tmp_path), url=static_server.url)
    (static_server.root / "bioconductor.sqlite3").unlink()
    (static_server.root / "modified").write_text("2000")
    with pytest.raises(GypsumNotFoundError):
        fetch_metadata_database(cache_dir=str(tmp_path), overwrite=True, url=static_server.url)
    assert Path(path).read_bytes() == b"db-1" and Path(path + ".modified").read_text() == "1000"
    assert leftovers(tmp_path / "databases") == []


def test_base_url_from_environment(static_server, tmp_path: Path, monkeypatch) -> None:
    publish(static_server.root, b"other", "5", name="other.sqlite3")
    monkeypatch.setenv("GYPSUM_METADATA_URL", static_server.url.rstrip("/"))
    monkeypatch.setenv("GYPSUM_CACHE_DIR", str(tmp_path))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        path = fetch_metadata_database("other.sqlite3")
    assert Path(path).read_bytes() == b"other"
    assert path == str(tmp_path / "databases" / "other.sqlite3")


def test_cache_dir_false_downloads_to_a_temporary_file(static_server, tmp_path: Path, dead_url: str) -> None:
    publish(static_server.root, b"db-t", "7")
    (static_server.root / "s.json").write_text("{}")
    db = fetch_metadata_database(cache_dir=False, url=static_server.url)
    schema = fetch_metadata_schema("s.json", cache_dir=False, url=static_server.url)
    try:
        assert Path(db).read_bytes() == b"db-t" and Path(schema).read_text() == "{}"
        assert static_server.hits == {"/bioconductor.sqlite3": 1, "/s.json": 1}  # no stamp check
    finally:
        Path(db).unlink()
        Path(schema).unlink()
    assert fetch_metadata_schema(cache_dir=False, url=dead_url) == shipped_schema_path()


def test_cache_dir_none_follows_cache_directory(static_server, tmp_path: Path, monkeypatch) -> None:
    from gypsum_flows import cache
    from gypsum_flows.client import cache_directory

    # cache_directory() cannot be unset once set; give this test its own setting.
    monkeypatch.setattr(cache, "_cache_dir_override", [])
    publish(static_server.root, b"db-c", "8")
    cache_directory(str(tmp_path / "chosen"))
    path = fetch_metadata_database(url=static_server.url)
    assert path == str(tmp_path / "chosen" / "databases" / "bioconductor.sqlite3")
