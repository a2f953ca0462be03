"""The local cache shared with gypsum_client and the R client (section 4.4 of docs/gypsum-api.md).

Layout under the cache folder:

- ``bucket/P/A/V/path``: downloaded files (``..manifest``, ``..summary`` and
  ``..links`` included), each written under ``path.LOCK`` (``filelock``);
- ``status/P/A/V.LOCK``: the version lock (Python's path), held while a whole
  version is saved or relinked;
- ``status/P/A/V/COMPLETE``: empty marker, written last.

Every download goes to a process-unique temporary file in the destination
folder, is checked against the manifest's size and MD5 when they are known,
and is moved into place with ``os.replace``; the temporary file is removed
whatever happens. A file that keeps arriving corrupted raises
:class:`~gypsum_flows.errors.GypsumIntegrityError` and never enters the cache.
No more than one byte beyond the expected size is ever read: a longer body
is refused (:class:`~gypsum_flows.errors.GypsumUnsafeResponseError`), and so
is a path that would leave its version's folder (:func:`version_files`).

Example:
    >>> bucket_path("/c", "test-R", "basic", "v1", "foo/bar.txt")
    '/c/bucket/test-R/basic/v1/foo/bar.txt'
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import os
import queue
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterable
from typing import Any

from filelock import FileLock

from . import _http
from .constants import (
    BUCKET_CACHE_NAME,
    COMPLETE_MARKER,
    LOCK_SUFFIX,
    MAX_DOCUMENT_SIZE,
    SMALL_FILE_SIZE,
    STATUS_CACHE_NAME,
    default_cache_dir,
)
from .errors import GypsumIntegrityError, GypsumNameError, GypsumTransientError, GypsumUnsafeResponseError
from .names import is_safe_key, version_key

#: How many times a download that broke or arrived corrupted is attempted in all.
DOWNLOAD_ATTEMPTS = 3
#: Downloads of at least this many bytes are hashed on a thread of their own.
_THREADED_MD5_SIZE = 16 << 20
#: Chunks (of up to 1 MiB) waiting for that thread at most.
_QUEUED_CHUNKS = 8
#: Bytes read at a time from a streamed download.
_CHUNK = 1 << 20

ByteCallback = Callable[[int], None]
#: Checks a downloaded body beyond size and MD5: what is wrong with it (it may be garbled: fetched again), or
#: ``None``; raises to refuse it outright.
BodyCheck = Callable[[bytes], "str | None"]
_temporary_names = itertools.count()
# os.getpid() is a system call each time; the process id changes only in a forked child.
_process_id = [os.getpid()]
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=lambda: _process_id.__setitem__(0, os.getpid()))
_cache_dir_override: list[str] = []


def cache_directory(dir: str | None = None) -> str:  # noqa: A002 - gypsum_client's parameter name
    """The cache folder used when a call gets ``cache_dir=None``; returns the **previous** value.

    Without a value set here, ``GYPSUM_CACHE_DIR`` (read now) or the folder
    shared with gypsum_client and the R client. The folder is not created.

    Example:
        >>> previous = cache_directory("/tmp/my-cache")  # doctest: +SKIP
        >>> cache_directory()  # doctest: +SKIP
        '/tmp/my-cache'
    """
    previous = _cache_dir_override[0] if _cache_dir_override else default_cache_dir()
    if dir is not None:
        _cache_dir_override[:] = [str(dir)]
    return previous


def resolve_cache(cache_dir: str | None) -> str:
    """``cache_dir``, or :func:`cache_directory` when ``None``."""
    return str(cache_dir) if cache_dir is not None else cache_directory()


def bucket_path(cache_dir: str, project: str, asset: str, version: str, path: str | None = None) -> str:
    """Where a version folder, or the file ``path`` inside it, lives in the cache."""
    parts = [cache_dir, BUCKET_CACHE_NAME, project, asset, version]
    return os.path.join(*parts, *(path.split("/") if path else []))


def version_files(cache_dir: str, project: str, asset: str, version: str, paths: Iterable[str]) -> dict[str, str]:
    """Where the files ``paths`` of a version live in the cache, each checked to stay inside the version's folder.

    The last line of defence after the names and paths were checked: a path
    that would land in another version's folder, or outside the cache, is refused.

    Raises:
        GypsumNameError: ``project``, ``asset`` or ``version`` is not a folder name.
        GypsumUnsafeResponseError: A path leaves the version's folder.

    Example:
        >>> version_files("/c", "P", "A", "V", ["x/y.txt"])
        {'x/y.txt': '/c/bucket/P/A/V/x/y.txt'}
    """
    _check_names(project, asset, version)
    folder = bucket_path(cache_dir, project, asset, version)
    inside, normpath = os.path.normpath(folder) + os.sep, os.path.normpath
    out = {}
    for path in paths:
        out[path] = where = os.path.join(folder, *path.split("/"))
        if not normpath(where).startswith(inside):
            key = version_key(project, asset, version, path)
            raise GypsumUnsafeResponseError(f"it would be written outside {folder}", key=key)
    return out


def _check_names(project: str, asset: str, version: str) -> None:
    """Refuse names that would not be one folder each in the cache (``..``, ``/``, empty...)."""
    for kind, name in (("project", project), ("asset", asset), ("version", version)):
        if not isinstance(name, str) or "/" in name or not is_safe_key(name):
            raise GypsumNameError(f"{kind} name {name!r} cannot name a folder in the cache")


def version_file(cache_dir: str, project: str, asset: str, version: str, path: str) -> str:
    """:func:`version_files` for one path."""
    return version_files(cache_dir, project, asset, version, (path,))[path]


def _status_path(cache_dir: str, project: str, asset: str, version: str) -> str:
    return os.path.join(cache_dir, STATUS_CACHE_NAME, project, asset, version)


def complete_marker(cache_dir: str, project: str, asset: str, version: str) -> str:
    """The ``COMPLETE`` marker of a fully saved version."""
    return os.path.join(_status_path(cache_dir, project, asset, version), COMPLETE_MARKER)


def version_lock(cache_dir: str, project: str, asset: str, version: str) -> FileLock:
    """The lock guarding a whole version in the cache (``status/P/A/V.LOCK``, as gypsum_client)."""
    _check_names(project, asset, version)
    path = _status_path(cache_dir, project, asset, version) + LOCK_SUFFIX
    _make_parent(path)
    return FileLock(path)


def file_lock(destination: str) -> FileLock:
    """The lock guarding one cached file (``destination.LOCK``, as gypsum_client)."""
    return FileLock(destination + LOCK_SUFFIX)


def mark_complete(cache_dir: str, project: str, asset: str, version: str) -> None:
    """Write the empty ``COMPLETE`` marker (the last step of saving a version)."""
    marker = complete_marker(cache_dir, project, asset, version)
    _make_parent(marker)
    with open(marker, "wb"):
        pass


def _make_parent(path: str) -> None:
    """Create the folder of ``path`` if missing (one ``stat`` when it exists, which is the usual case)."""
    folder = os.path.dirname(path)
    if not os.path.isdir(folder):
        os.makedirs(folder, exist_ok=True)


def _create_temporary(destination: str) -> tuple[int, str]:
    """A new file beside ``destination``, open for writing: ``(fd, path)``.

    Named by process, thread and a counter, which is unique without
    ``mkstemp``'s random names (a tenth of the cost of saving a small file);
    a leftover of a dead process with the same number falls back to ``mkstemp``.
    """
    folder = os.path.dirname(destination)
    tmp = os.path.join(folder, f".gypsum-{_process_id[0]}-{threading.get_ident()}-{next(_temporary_names)}.tmp")
    try:
        return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), tmp
    except FileExistsError:
        return tempfile.mkstemp(dir=folder, prefix=".gypsum-", suffix=".tmp")


@contextlib.contextmanager
def _temporary_beside(destination: str):
    """A temporary file in ``destination``'s folder, removed unless it was moved into place."""
    fd, tmp = _create_temporary(destination)
    os.close(fd)
    try:
        yield tmp
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


class _ThreadedMD5:
    """An MD5 computed on a thread of its own, so hashing a large download overlaps receiving and writing it.

    hashlib releases the GIL on large buffers, so the two really run at once.
    At most ``_QUEUED_CHUNKS`` chunks wait in memory.
    """

    def __init__(self) -> None:
        self._md5 = hashlib.md5()
        self._chunks: queue.Queue[bytes | None] = queue.Queue(maxsize=_QUEUED_CHUNKS)
        self._thread = threading.Thread(target=self._run, name="gypsum-md5", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (chunk := self._chunks.get()) is not None:
            self._md5.update(chunk)

    def update(self, chunk: bytes) -> None:
        self._chunks.put(chunk)

    def hexdigest(self) -> str:
        """The digest of everything added (stops the thread: call once, last)."""
        self.close()
        return self._md5.hexdigest()

    def close(self) -> None:
        if self._thread.is_alive():
            self._chunks.put(None)
            self._thread.join()


class _Partial:
    """What has arrived of one download so far: its size and running MD5, and the progress reported.

    Downloads expected to be large hash on a thread of their own (:class:`_ThreadedMD5`).
    """

    def __init__(self, on_bytes: ByteCallback | None, expected: int | None = None) -> None:
        self.on_bytes = on_bytes
        self._threaded = expected is not None and expected >= _THREADED_MD5_SIZE
        self.size = 0
        self.digest = self._new_digest()

    def _new_digest(self) -> Any:
        return _ThreadedMD5() if self._threaded else hashlib.md5()

    def add(self, chunk: bytes) -> None:
        self.digest.update(chunk)
        self.size += len(chunk)
        if self.on_bytes:
            self.on_bytes(len(chunk))

    def restart(self) -> None:
        """Forget what arrived (rolling back the progress reported)."""
        if self.on_bytes and self.size:
            self.on_bytes(-self.size)
        self.close()
        self.digest, self.size = self._new_digest(), 0

    def close(self) -> None:
        """Stop a hashing thread, if any."""
        if isinstance(self.digest, _ThreadedMD5):
            self.digest.close()


def _fetch_into(url: str, tmp: str, partial: _Partial, expected: int | None, key: str) -> None:
    """Stream ``url`` into ``tmp``, resuming after ``partial.size`` bytes when the server honours ``Range``.

    Never reads more than ``expected + 1`` bytes in all; a body declared or found longer is refused.
    """
    resume = 0 < partial.size < (expected if expected is not None else 0)
    if partial.size and not resume:
        partial.restart()
    headers = {"Range": f"bytes={partial.size}-"} if resume else None
    with _http.stream_get(url, headers=headers) as (status, length, read):
        if resume and status != 206:
            partial.restart()  # the server sent the whole object again
        cap = None if expected is None else expected + 1
        if cap is not None and length is not None and partial.size + length >= cap:
            raise _oversized(key, url, partial.size + length, expected)  # type: ignore[arg-type]
        with open(tmp, "ab" if partial.size else "wb") as out:
            while chunk := read(_CHUNK if cap is None else min(_CHUNK, cap - partial.size)):
                out.write(chunk)
                partial.add(chunk)
                if partial.size == cap:
                    raise _oversized(key, url, None, expected)  # type: ignore[arg-type]


def _oversized(key: str, url: str, declared: int | None, size: int) -> GypsumUnsafeResponseError:
    what = f"declared a body of {declared} bytes" if declared is not None else "sent a longer body"
    return GypsumUnsafeResponseError(f"the server {what}, more than the {size} bytes expected", key=key, url=url)


def _check(key: str, got: tuple[int, str], size: int | None, md5: str | None) -> str | None:
    """Why a download does not match the manifest, or ``None``."""
    if size is not None and got[0] != size:
        return f"'{key}' arrived with {got[0]} bytes, the manifest says {size}"
    if md5 is not None and got[1] != md5.lower():
        return f"'{key}' arrived with MD5 {got[1]}, the manifest says {md5}"
    return None


def download(
    url: str,
    destination: str,
    *,
    key: str,
    size: int | None = None,
    md5: str | None = None,
    on_bytes: ByteCallback | None = None,
    verify: BodyCheck | None = None,
) -> None:
    """Download ``url`` to ``destination`` atomically, verified against ``size`` and ``md5``.

    The caller holds :func:`file_lock` and has made the folder. Objects of at
    most :data:`SMALL_FILE_SIZE` bytes, and internal files checked by
    ``verify(body)`` (which returns what is wrong, or ``None``, or raises to
    refuse the body), arrive in one response read whole (internal files up to
    :data:`MAX_DOCUMENT_SIZE` bytes), on a kept-alive connection; others (large
    files, or of unknown size like the metadata database) stream to disk. A
    broken or corrupted transfer is retried up to :data:`DOWNLOAD_ATTEMPTS`
    times in all; a streamed transfer that broke off resumes with a ``Range``
    request. A body longer than ``size`` is refused at once.

    Raises:
        GypsumIntegrityError: The file kept arriving with the wrong size or MD5.
        GypsumUnsafeResponseError: The body is longer than ``size`` or refused by ``verify``.
        GypsumTransientError: The transfer kept failing.
    """
    if verify is not None or (size is not None and size <= SMALL_FILE_SIZE):
        _download_whole(url, destination, key, size, md5, on_bytes, verify)
    else:
        _download_streamed(url, destination, key, size, md5, on_bytes)


def _download_whole(
    url: str,
    destination: str,
    key: str,
    size: int | None,
    md5: str | None,
    on_bytes: ByteCallback | None,
    verify: BodyCheck | None,
) -> None:
    problem = ""
    for _ in range(DOWNLOAD_ATTEMPTS):
        body = _http.fetch("GET", url, check_body=False, limit=body_limit(size)).body
        problem = _keep_body(url, destination, body, key, size, md5, on_bytes, verify)
        if not problem:
            return
    raise GypsumIntegrityError(f"{problem} (after {DOWNLOAD_ATTEMPTS} attempts, from {url})")


def body_limit(size: int | None) -> int:
    """The most bytes a whole-read body may have: the manifest's ``size``, else :data:`MAX_DOCUMENT_SIZE`."""
    return MAX_DOCUMENT_SIZE if size is None else size


def _keep_body(
    url: str,
    destination: str,
    body: bytes,
    key: str,
    size: int | None,
    md5: str | None,
    on_bytes: ByteCallback | None,
    verify: BodyCheck | None,
) -> str:
    """Write ``body`` to ``destination`` atomically if it is intact; otherwise what is wrong (nothing written)."""
    if len(body) > body_limit(size):
        raise _oversized(key, url, None, body_limit(size))
    problem = _check(key, (len(body), hashlib.md5(body).hexdigest()), size, md5) or ""
    if not problem and verify is not None and (bad := verify(body)):
        problem = f"'{key}' {bad}"
    if not problem:
        _write_beside(destination, body)
        if on_bytes:
            on_bytes(len(body))
    return problem


def store_fetched(
    url: str,
    destination: str,
    body: bytes,
    *,
    key: str,
    size: int | None = None,
    md5: str | None = None,
    on_bytes: ByteCallback | None = None,
    verify: BodyCheck | None = None,
) -> None:
    """Keep ``body``, already fetched from ``url``, at ``destination`` if intact, else download it again.

    For the small files :func:`gypsum_flows._http.fetch_each` brings in (with
    :func:`body_limit` as their limit); the caller holds the version lock and
    has made the folder.

    Raises:
        GypsumIntegrityError: The file kept arriving with the wrong size or MD5.
        GypsumUnsafeResponseError: The body is longer than ``size`` or refused by ``verify``.
    """
    if _keep_body(url, destination, body, key, size, md5, on_bytes, verify):
        download(url, destination, key=key, size=size, md5=md5, on_bytes=on_bytes, verify=verify)


def _download_streamed(
    url: str, destination: str, key: str, size: int | None, md5: str | None, on_bytes: ByteCallback | None
) -> None:
    problem = ""
    with _temporary_beside(destination) as tmp, contextlib.closing(_Partial(on_bytes, size)) as partial:
        for attempt in range(DOWNLOAD_ATTEMPTS):
            try:
                _fetch_into(url, tmp, partial, size, key)
            except GypsumTransientError:
                if attempt == DOWNLOAD_ATTEMPTS - 1:
                    partial.restart()
                    raise
                continue  # the next attempt resumes where this one broke off
            problem = _check(key, (partial.size, partial.digest.hexdigest()), size, md5) or ""
            if not problem:
                os.replace(tmp, destination)
                return
            partial.restart()
    raise GypsumIntegrityError(f"{problem} (after {DOWNLOAD_ATTEMPTS} attempts, from {url})")


def save_object(
    url: str,
    destination: str,
    *,
    key: str,
    overwrite: bool = False,
    size: int | None = None,
    md5: str | None = None,
    on_bytes: ByteCallback | None = None,
    verify: BodyCheck | None = None,
    file_locked: bool = True,
    checked: bool = False,
) -> str:
    """Make sure ``destination`` holds the object at ``url``; download it under its file lock if needed.

    ``file_locked=False`` skips the file lock when the caller holds the :func:`version_lock` of
    ``destination``'s version: every writer of a version's files (ours, gypsum_client's
    ``save_file`` and ``save_version``) takes that lock or writes atomically, so a per-file
    lock (several file-system calls per file) would add nothing but time. ``checked``: the
    caller made the folder and found no file at ``destination`` (see :func:`prepare_folders`).

    Example:
        >>> save_object(url + "/file/P%2FA%2FV%2Fx", "/c/bucket/P/A/V/x", key="P/A/V/x")  # doctest: +SKIP
    """
    if not checked:
        if not overwrite and os.path.exists(destination):
            return destination
        _make_parent(destination)
    if not file_locked:
        download(url, destination, key=key, size=size, md5=md5, on_bytes=on_bytes, verify=verify)
        return destination
    with file_lock(destination):
        # Another process may have finished it while we waited for the lock.
        if overwrite or not os.path.exists(destination):
            download(url, destination, key=key, size=size, md5=md5, on_bytes=on_bytes, verify=verify)
    return destination


def prepare_folders(files: Iterable[str]) -> set[str]:
    """Create the folders of ``files`` and return those of ``files`` already present.

    One listing per folder instead of one ``stat`` per file: every call that
    enters the kernel hands the GIL to another thread, which is what saving
    many small files on several threads costs most.

    Example:
        >>> prepare_folders([])
        set()
    """
    by_folder: dict[str, set[str]] = {}
    for path in files:
        folder, name = os.path.split(path)
        by_folder.setdefault(folder, set()).add(name)
    present = set()
    for folder, names in by_folder.items():
        os.makedirs(folder, exist_ok=True)
        present.update(os.path.join(folder, name) for name in names & set(os.listdir(folder)))
    return present


def write_atomic(destination: str, data: bytes) -> None:
    """Write ``data`` to ``destination`` through a temporary file and ``os.replace``."""
    _make_parent(destination)
    _write_beside(destination, data)


def _write_beside(destination: str, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``destination``, then move it there; the folder exists."""
    fd, tmp = _create_temporary(destination)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, destination)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def place_link(source: str, destination: str) -> None:
    """Make ``destination`` the same file as ``source``: hard link, else symlink, else copy; atomically."""
    _make_parent(destination)
    with _temporary_beside(destination) as tmp:
        os.unlink(tmp)
        try:
            os.link(source, tmp)
        except OSError:
            try:
                os.symlink(os.path.abspath(source), tmp)
            except OSError:
                shutil.copyfile(source, tmp)
        os.replace(tmp, destination)
