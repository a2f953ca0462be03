"""The bucket: object keys stored as files under a root folder.

Keys are ``/``-separated paths relative to the root, exactly as in the
reference bucket. Writes go to a temporary file in the private state folder
(outside the root, so never listed or served) and are renamed into place, so
readers see either the old or the new object. Empty folders are pruned, so a
"directory" exists exactly when some object lives under it, as in R2.

Example:
    >>> import tempfile, pathlib
    >>> base = pathlib.Path(tempfile.mkdtemp())
    >>> bucket = Bucket(base / "root", base / "state")
    >>> bucket.put_json("p/..usage", {"total": 0})
    >>> bucket.list("p/", recursive=False)
    ['p/..usage']
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..names import is_internal_path, is_safe_key
from .web import HttpError

#: Entries kept in the in-memory MD5/JSON memo before it is emptied.
_MEMO_SIZE = 100_000


class Bucket:
    """Objects under ``root``; temporary files under ``state/tmp``."""

    def __init__(self, root: Path, state: Path) -> None:
        self.root = Path(root).resolve()
        self.tmp = Path(state).resolve() / "tmp"
        self.root.mkdir(parents=True, exist_ok=True)
        self.tmp.mkdir(parents=True, exist_ok=True)
        self._locks: dict[str, threading.RLock] = {}
        self._locks_guard = threading.Lock()
        self._memos: dict[tuple[str, str, int, int, int], Any] = {}

    # ---- keys and locks -------------------------------------------------
    def path(self, key: str) -> Path:
        """The file of ``key``; keys that could leave the root are a 400."""
        if not is_safe_key(key) or key.endswith("/"):
            raise HttpError(f"invalid object key '{key}'", 400)
        return self.root.joinpath(*key.split("/"))

    @contextmanager
    def project_lock(self, project: str) -> Iterator[None]:
        """Serialise every mutation of one project inside this process."""
        with self._locks_guard:
            lock = self._locks.setdefault(project, threading.RLock())
        with lock:
            yield

    # ---- reads ------------------------------------------------------------
    def exists(self, key: str) -> bool:
        """Whether an object is stored at ``key``."""
        return self.path(key).is_file()

    def get_json(self, key: str) -> Any:
        """The parsed JSON object at ``key``, or ``None`` if there is none."""
        try:
            text = self.path(key).read_bytes()
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

    def md5(self, key: str) -> str:
        """The hex MD5 of the object at ``key``, remembered while the file is unchanged."""

        def compute(path: Path) -> str:
            digest = hashlib.md5()
            with open(path, "rb") as handle:
                for chunk in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(chunk)
            return digest.hexdigest()

        return self._memo("md5", key, compute)

    def md5_known(self, key: str) -> bool:
        """Whether :meth:`md5` of ``key`` is remembered (so it costs no read)."""
        return self._identity("md5", self.path(key)) in self._memos

    def need_json_memo(self, key: str) -> Any:
        """:meth:`need_json` remembered while the file is unchanged (callers must not mutate it).

        Signing each file of a large upload reads the same manifest; parsing it
        once per upload keeps signing O(1) per file.
        """
        return self._memo("json", key, lambda path: self.need_json(key))

    def _memo(self, kind: str, key: str, compute: Callable[[Path], Any]) -> Any:
        """``compute(path)`` cached by file identity (inode, size, mtime), so a rewrite invalidates it."""
        path = self.path(key)
        ident = self._identity(kind, path)
        if ident is None:
            return compute(path)
        if ident not in self._memos:
            if len(self._memos) > _MEMO_SIZE:
                self._memos.clear()
            self._memos[ident] = compute(path)
        return self._memos[ident]

    @staticmethod
    def _identity(kind: str, path: Path) -> tuple[str, str, int, int, int] | None:
        """The memo key of ``path`` in its current state, or ``None`` if it does not exist."""
        try:
            stat = path.stat()
        except (FileNotFoundError, NotADirectoryError):
            return None
        return (kind, str(path), stat.st_ino, stat.st_size, stat.st_mtime_ns)

    def walk(self, prefix: str) -> Iterator[tuple[str, int]]:
        """``(key, size)`` of every object whose key starts with ``prefix``."""
        start = self._folder(prefix)
        if start is None:
            return
        for dirpath, dirnames, filenames in os.walk(start):
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
            if not key.startswith(prefix):
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
    def temp_file(self) -> tuple[int, Path]:
        """A fresh temporary file in the private state folder: ``(fd, path)``."""
        fd, name = tempfile.mkstemp(dir=self.tmp, prefix="put-")
        return fd, Path(name)

    def put_bytes(self, key: str, data: bytes) -> None:
        """Store ``data`` at ``key`` atomically."""
        fd, tmp = self.temp_file()
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            self.put_file(key, tmp)
        finally:
            tmp.unlink(missing_ok=True)

    def put_json(self, key: str, value: Any) -> None:
        """Store ``value`` as compact JSON at ``key`` atomically."""
        self.put_bytes(key, json.dumps(value, separators=(",", ":")).encode())

    def put_file(self, key: str, source: Path, md5: str | None = None) -> None:
        """Move the finished file ``source`` to ``key`` (same file system, atomic)."""
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(source, target)
        if md5:
            self._memo("md5", key, lambda path: md5)

    def delete(self, key: str) -> None:
        """Delete the object at ``key`` if present, pruning emptied folders."""
        path = self.path(key)
        path.unlink(missing_ok=True)
        self._prune(path.parent)

    def delete_prefix(self, prefix: str) -> int:
        """Delete every object under the folder ``prefix`` (ending in ``/``); returns the bytes freed.

        Only non-internal bytes count, as in the reference's usage accounting.
        """
        freed = self.usage(prefix)
        folder = self.path(prefix.rstrip("/"))
        shutil.rmtree(folder, ignore_errors=True)
        self._prune(folder.parent)
        return freed

    def _folder(self, prefix: str) -> Path | None:
        """The folder holding every key that starts with ``prefix``, or ``None`` if unsafe."""
        folder = prefix.rpartition("/")[0]
        if not folder:
            return self.root
        if not is_safe_key(folder):
            return None
        return self.root.joinpath(*folder.split("/"))

    def _prune(self, folder: Path) -> None:
        while folder != self.root and self.root in folder.parents:
            try:
                folder.rmdir()
            except OSError:
                return
            folder = folder.parent

