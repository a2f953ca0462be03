"""Local MD5s are reused while a file's stat is unchanged, and recomputed when anything changes."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from polling import restamp

from gypsum_flows import md5cache
from gypsum_flows.md5cache import DATABASE, file_md5


@pytest.fixture
def hashed(monkeypatch) -> list[str]:
    """The paths actually read and hashed, in order."""
    seen: list[str] = []
    real = md5cache.compute_md5

    def counting(path: str) -> tuple[int, str]:
        seen.append(path)
        return real(path)

    monkeypatch.setattr(md5cache, "compute_md5", counting)
    return seen


def settled(path: Path, content: bytes, age: float = 60.0) -> Path:
    """``path`` holding ``content``, last modified ``age`` seconds ago (outside the racy window)."""
    path.write_bytes(content)
    past = time.time() - age
    os.utime(path, (past, past))
    return path


def expected(content: bytes) -> tuple[int, str]:
    return len(content), hashlib.md5(content).hexdigest()


def test_unchanged_file_is_hashed_once(tmp_path, hashed):
    cache = str(tmp_path / "cache")
    path = settled(tmp_path / "a.bin", b"x" * 1000)
    assert [file_md5(str(path), cache) for _ in range(3)] == [expected(b"x" * 1000)] * 3
    assert hashed == [str(path)]
    assert (tmp_path / "cache" / DATABASE).is_file()


@pytest.mark.parametrize("change", ["content-same-size-same-mtime", "size", "replaced-by-rename", "mtime"])
def test_any_change_means_hashing_again(tmp_path, hashed, change):
    cache = str(tmp_path / "cache")
    path = settled(tmp_path / "a.bin", b"aaaa")
    before = os.stat(path)
    assert file_md5(str(path), cache) == expected(b"aaaa")
    if change == "content-same-size-same-mtime":

        def rewrite_keeping_mtime(p: Path) -> None:
            p.write_bytes(b"bbbb")
            os.utime(p, ns=(before.st_atime_ns, before.st_mtime_ns))  # only ctime tells

        restamp(path, rewrite_keeping_mtime, "st_ctime_ns")
        new = b"bbbb"
    elif change == "size":
        new = b"aaaaa"
        settled(path, new)
    elif change == "replaced-by-rename":
        new = b"cccc"
        settled(tmp_path / "other", new)
        os.utime(tmp_path / "other", ns=(before.st_atime_ns, before.st_mtime_ns))
        os.replace(tmp_path / "other", path)  # a new inode
    else:
        new = b"aaaa"
        os.utime(path, (time.time() - 5, time.time() - 5))
    assert file_md5(str(path), cache) == expected(new)
    assert hashed == [str(path), str(path)]


def test_a_file_modified_just_now_is_not_remembered(tmp_path, hashed):
    cache = str(tmp_path / "cache")
    path = tmp_path / "fresh.txt"
    path.write_bytes(b"new")
    file_md5(str(path), cache)
    file_md5(str(path), cache)
    assert hashed == [str(path), str(path)]


def test_concurrent_threads_share_one_database(tmp_path):
    cache = str(tmp_path / "cache")
    files = [settled(tmp_path / f"f{i}", os.urandom(100 + i)) for i in range(64)]
    with ThreadPoolExecutor(8) as pool:
        for _ in range(2):
            results = list(pool.map(lambda p: file_md5(str(p), cache), files * 2))
            assert results == [expected(p.read_bytes()) for p in files * 2]
    rows = sqlite3.connect(tmp_path / "cache" / DATABASE).execute("SELECT count(*) FROM files").fetchone()[0]
    assert rows == len(files)


def test_a_database_busy_while_it_is_opened_is_opened_again_later(tmp_path, monkeypatch, hashed):
    monkeypatch.setattr(md5cache, "BUSY_TIMEOUT", 0.1)
    cache = tmp_path / "cache"
    (cache / DATABASE).parent.mkdir(parents=True)
    holder = sqlite3.connect(cache / DATABASE, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another thread or process setting the database up
    path = settled(tmp_path / "f", b"data")
    assert file_md5(str(path), str(cache)) == expected(b"data")
    holder.execute("ROLLBACK")
    holder.close()
    file_md5(str(path), str(cache))
    file_md5(str(path), str(cache))
    assert hashed == [str(path)] * 2, "the third call is answered from the database"


def test_a_broken_or_unwritable_database_only_costs_hashing(tmp_path, hashed):
    broken = tmp_path / "broken"
    (broken / DATABASE).parent.mkdir(parents=True)
    (broken / DATABASE).write_bytes(b"this is not a database" * 100)
    path = settled(tmp_path / "a.txt", b"abc")
    assert file_md5(str(path), str(broken)) == expected(b"abc")
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the cache folder should be")
    assert file_md5(str(path), str(blocked)) == expected(b"abc")
    assert len(hashed) == 2
