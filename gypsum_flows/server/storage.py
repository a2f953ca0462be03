"""The bucket: object keys stored as files under a root folder.

Keys are ``/``-separated paths relative to the root, exactly as in the
reference bucket. Writes go to a temporary file and are renamed into place, so
readers see either the old or the new object. Temporary files live in
``<root>/..tmp``: on the root's own file system, so the rename works when the
root is a mount point, and under a name no key may use, so the bucket never
lists or serves them. Empty folders are pruned, so a "directory" exists
exactly when some object lives under it, as in R2.

Example:
    >>> import tempfile, pathlib
    >>> bucket = Bucket(pathlib.Path(tempfile.mkdtemp()) / "root")
    >>> bucket.put_json("p/..usage", {"total": 0})
    >>> bucket.list("", recursive=True)
    ['p/..usage']
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ..names import is_internal_path, is_safe_key
from .web import HttpError

#: The folder under the root holding temporary files: never a key (``..`` names are internal, and this one
#: is refused as a key), never listed.
TEMP_FOLDER = "..tmp"
#: Entries kept in the in-memory MD5/JSON memo before it is emptied.
_MEMO_SIZE = 100_000

#: A file's state as the memo sees it: inode, size, mtime and ctime (ns).
_Identity = tuple[int, int, int, int]


def _identity(stat: os.stat_result) -> _Identity:
    return (stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)


class Bucket:
    """Objects under ``root``; temporary files under ``root/..tmp`` (see :data:`TEMP_FOLDER`).

    Keys map to ``str`` paths (pathlib costs tens of microseconds per call on
    the per-request paths).
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()
        self.tmp = self.root / TEMP_FOLDER
        self.root.mkdir(parents=True, exist_ok=True)
        self.tmp.mkdir(parents=True, exist_ok=True)
        self._root_str = str(self.root)
        self._root_prefix = self._root_str + os.sep
        self._tmp_prefix = os.path.join(self.tmp, f"put-{os.getpid()}-")
        self._tmp_names = itertools.count()
        self._locks: dict[str, threading.RLock] = {}
        self._locks_guard = threading.Lock()
        # (kind, path) -> (identity of the file when computed, value). Every write through the bucket
        # drops the entries of the paths it changed and counts in _writes (a value computed while some
        # write happened is not kept: a new file may reuse a deleted one's inode within one clock
        # tick); the identity catches edits from outside.
        self._memos: dict[tuple[str, str], tuple[_Identity, Any]] = {}
        self._writes = 0

    # ---- keys and locks -------------------------------------------------
    def path(self, key: str) -> str:
        """The file of ``key``; keys that could leave the root are a 400."""
        if not is_safe_key(key) or key.endswith("/") or _is_temp(key):
            raise HttpError(f"invalid object key '{key}'", 400)
        return self._root_prefix + key.replace("/", os.sep)

    def project_lock(self, project: str) -> threading.RLock:
        """The lock serialising every mutation of one project inside this process (``with`` it)."""
        lock = self._locks.get(project)
        if lock is None:
            with self._locks_guard:
                lock = self._locks.setdefault(project, threading.RLock())
        return lock

    # ---- reads ------------------------------------------------------------
    def exists(self, key: str) -> bool:
        """Whether an object is stored at ``key``."""
        return os.path.isfile(self.path(key))

    def get_json(self, key: str) -> Any:
        """The parsed JSON object at ``key``, or ``None`` if there is none."""
        try:
            with open(self.path(key), "rb") as handle:
                text = handle.read()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None
        try:
            return json.loads(text)
        except ValueError:
            raise HttpError(f"internal file '{key}' is not valid JSON", 500) from None

    def need_json(self, key: str) -> Any:
        """Like :meth:`get_json`, but a missing internal file is a 500."""
        value = self.get_json(key)
        if value is None:
            raise HttpError(f"no file at '{key}'", 500)
        return value

    def md5(self, key: str) -> str | None:
        """The hex MD5 of the object at ``key`` (``None`` if there is none), remembered while the file is unchanged."""

        def compute(path: str) -> str | None:
            digest = hashlib.md5()
            try:
                with open(path, "rb") as handle:
                    for chunk in iter(lambda: handle.read(1 << 20), b""):
                        digest.update(chunk)
            except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
                return None
            return digest.hexdigest()

        return self._memo("md5", key, compute)

    def known_md5(self, path: str, stat: os.stat_result) -> str | None:
        """The remembered MD5 of the file at ``path`` (from :meth:`path`) in the state ``stat`` describes.

        Costs no file operation; ``None`` when it is not remembered.
        """
        found = self._memos.get(("md5", path))
        return found[1] if found is not None and found[0] == _identity(stat) else None

    def get_json_memo(self, key: str) -> Any:
        """:meth:`get_json` remembered while the file is unchanged (callers must not mutate it).

        Every presigned URL and PUT of an upload checks the same lock file and
        manifest; parsing each once per upload keeps those requests O(1).
        """
        return self._memo("json", key, lambda path: self.get_json(key))

    def need_json_memo(self, key: str) -> Any:
        """:meth:`need_json` remembered while the file is unchanged (callers must not mutate it)."""
        return self._memo("json", key, lambda path: self.need_json(key))

    def _memo(self, kind: str, key: str, compute: Callable[[str], Any]) -> Any:
        """``compute(path)`` cached by file identity, so a rewrite invalidates it."""
        path = self.path(key)
        writes = self._writes
        try:
            ident = _identity(os.stat(path))
        except (FileNotFoundError, NotADirectoryError):
            return compute(path)
        found = self._memos.get((kind, path))
        if found is not None and found[0] == ident:
            return found[1]
        value = compute(path)
        if self._writes == writes:
            self._remember(kind, path, ident, value)
        return value

    def _remember(self, kind: str, path: str, ident: _Identity, value: Any) -> None:
        if len(self._memos) > _MEMO_SIZE:
            self._memos.clear()
        self._memos[(kind, path)] = (ident, value)

    def _forget(self, path: str) -> None:
        """Drop what the memo holds for ``path`` (called after every write to it)."""
        self._writes += 1
        self._memos.pop(("md5", path), None)
        self._memos.pop(("json", path), None)

    def walk(self, prefix: str) -> Iterator[tuple[str, int]]:
        """``(key, size)`` of every object whose key starts with ``prefix``."""
        start = self._folder(prefix)
        if start is None:
            return
        for dirpath, dirnames, filenames in os.walk(start):
            if dirpath == self._root_str:
                dirnames[:] = [name for name in dirnames if name != TEMP_FOLDER]
            dirnames.sort()
            rel = os.path.relpath(dirpath, self.root).replace(os.sep, "/")
            for name in filenames:
                key = name if rel == "." else f"{rel}/{name}"
                if not key.startswith(prefix):
                    continue
                try:
                    yield key, os.path.getsize(os.path.join(dirpath, name))
                except FileNotFoundError:  # deleted while walking
                    continue

    def list(self, prefix: str, recursive: bool) -> list[str]:
        """Keys under ``prefix`` as the reference ``/list`` returns them.

        Recursive: every full key. Otherwise: the "directories" (full, ending
        in ``/``) then the objects directly under the prefix.
        """
        if recursive:
            return sorted(key for key, _ in self.walk(prefix))
        start = self._folder(prefix)
        folder = prefix.rpartition("/")[0]
        dirs, files = [], []
        try:
            entries = list(os.scandir(start)) if start else []
        except (FileNotFoundError, NotADirectoryError):
            return []
        for entry in entries:
            key = f"{folder}/{entry.name}" if folder else entry.name
            if not key.startswith(prefix) or key == TEMP_FOLDER:
                continue
            if entry.is_dir():
                dirs.append(key + "/")
            else:
                files.append(key)
        return sorted(dirs) + sorted(files)

    def usage(self, prefix: str) -> int:
        """Bytes of non-internal objects under ``prefix`` (the quota's notion of usage)."""
        return sum(size for key, size in self.walk(prefix) if not is_internal_path(key))

    # ---- writes -----------------------------------------------------------
    def sweep_temp(self) -> int:
        """Delete every temporary file (left by PUTs a crash cut off); how many there were.

        Only while no other server serves the root (``serve_in_thread`` holds its claim).
        """
        swept = 0
        with os.scandir(self.tmp) as entries:
            for entry in entries:
                if entry.is_file(follow_symlinks=False) or entry.is_symlink():
                    remove_if_present(entry.path)
                    swept += 1
        return swept

    def temp_file(self) -> tuple[int, str]:
        """A fresh temporary file in :data:`TEMP_FOLDER`: ``(fd, path)``.

        Named by process id and a counter (mkstemp's random names cost more); ``O_EXCL``
        still refuses a name a crashed earlier process with the same id left behind.
        """
        while True:
            name = self._tmp_prefix + str(next(self._tmp_names))
            try:
                return os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), name
            except FileExistsError:
                continue

    def put_bytes(self, key: str, data: bytes) -> None:
        """Store ``data`` at ``key`` atomically (its MD5 remembered, so the first ``GET`` is a quick one)."""
        fd, tmp = self.temp_file()
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            self.put_file(key, tmp, hashlib.md5(data).hexdigest())
        finally:
            remove_if_present(tmp)

    def put_json(self, key: str, value: Any) -> None:
        """Store ``value`` as compact JSON at ``key`` atomically."""
        self.put_bytes(key, json.dumps(value, separators=(",", ":")).encode())

    def put_file(self, key: str, source: str, md5: str | None = None) -> None:
        """Move the finished file ``source`` to ``key`` (same file system, atomic)."""
        target = self.path(key)
        try:
            os.replace(source, target)
        except FileNotFoundError:  # the first object of its folder: make the folder (rarely needed)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            os.replace(source, target)
        self._forget(target)
        if md5:
            self._remember("md5", target, _identity(os.stat(target)), md5)

    def delete(self, key: str) -> None:
        """Delete the object at ``key`` if present, pruning emptied folders."""
        path = self.path(key)
        remove_if_present(path)
        self._forget(path)
        self._prune(Path(path).parent)

    def delete_prefix(self, prefix: str) -> int:
        """Delete every object under the folder ``prefix`` (ending in ``/``); returns the bytes freed.

        Only non-internal bytes count, as in the reference's usage accounting.
        """
        freed = self.usage(prefix)
        folder = self.path(prefix.rstrip("/"))
        shutil.rmtree(folder, ignore_errors=True)
        self._writes += 1
        for memo in list(self._memos):  # list() copies atomically; other threads may add entries
            if memo[1].startswith(folder + os.sep):
                self._memos.pop(memo, None)
        self._prune(Path(folder).parent)
        return freed

    def _folder(self, prefix: str) -> Path | None:
        """The folder holding every key that starts with ``prefix``, or ``None`` if unsafe."""
        folder = prefix.rpartition("/")[0]
        if not folder:
            return self.root
        if not is_safe_key(folder) or _is_temp(folder):
            return None
        return self.root.joinpath(*folder.split("/"))

    def _prune(self, folder: Path) -> None:
        while folder != self.root and self.root in folder.parents:
            try:
                folder.rmdir()
            except OSError:
                return
            folder = folder.parent


def _is_temp(key: str) -> bool:
    """Whether ``key`` is, or lies under, the temporary folder."""
    return key.startswith(TEMP_FOLDER) and (len(key) == len(TEMP_FOLDER) or key[len(TEMP_FOLDER)] == "/")


def remove_if_present(path: str) -> None:
    """Delete the file at ``path``; no error if it is already gone."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
