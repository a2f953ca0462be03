"""The local cache shared with gypsum_client and the R client (section 4.4 of docs/gypsum-api.md).

Layout under the cache folder:

- ``bucket/P/A/V/path``: downloaded files (``..manifest``, ``..summary`` and
  ``..links`` included), each written under ``path.LOCK`` (``filelock``);
- ``status/P/A/V.LOCK``: the version lock (Python's path), held while a whole
  version is saved or relinked;
- ``status/P/A/V/COMPLETE``: empty marker, written last.

This module does no HTTP: it knows where things go (and refuses a path that
would leave its version's folder, :func:`version_files`), the locks, the
atomic writes (a process-unique temporary file in the destination folder,
moved into place with ``os.replace`` and removed whatever happens, see
:func:`staged`) and the check of a file against its manifest entry
(:func:`mismatch`). The downloads themselves are :mod:`gypsum_flows.client.fetch`.

Example:
    >>> bucket_path("/c", "test-R", "basic", "v1", "foo/bar.txt")
    '/c/bucket/test-R/basic/v1/foo/bar.txt'
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import tempfile
import threading
from collections.abc import Iterable, Iterator

from filelock import FileLock

from .constants import BUCKET_CACHE_NAME, COMPLETE_MARKER, LOCK_SUFFIX, STATUS_CACHE_NAME, default_cache_dir
from .errors import GypsumNameError, GypsumUnsafeResponseError
from .names import is_safe_key, version_key

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
    make_parent(path)
    return FileLock(path)


def file_lock(destination: str) -> FileLock:
    """The lock guarding one cached file (``destination.LOCK``, as gypsum_client)."""
    return FileLock(destination + LOCK_SUFFIX)


def mark_complete(cache_dir: str, project: str, asset: str, version: str) -> None:
    """Write the empty ``COMPLETE`` marker (the last step of saving a version)."""
    marker = complete_marker(cache_dir, project, asset, version)
    make_parent(marker)
    with open(marker, "wb"):
        pass


def make_parent(path: str) -> None:
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


class Staged:
    """A temporary file beside ``destination``, written through ``fd``; :meth:`commit` moves it into place."""

    def __init__(self, destination: str) -> None:
        self.destination = destination
        self.fd, self.path = _create_temporary(destination)
        self.committed = False

    def restart(self) -> None:
        """Empty the file, to write it again from its first byte."""
        os.ftruncate(self.fd, 0)
        os.lseek(self.fd, 0, os.SEEK_SET)

    def commit(self) -> None:
        """Move the file to ``destination`` atomically."""
        os.replace(self.path, self.destination)
        self.committed = True


@contextlib.contextmanager
def staged(destination: str) -> Iterator[Staged]:
    """A :class:`Staged` file beside ``destination`` (whose folder exists), removed unless it was committed.

    Example:
        >>> import tempfile
        >>> folder = tempfile.mkdtemp()
        >>> with staged(os.path.join(folder, "x.txt")) as out:
        ...     _ = os.write(out.fd, b"abc")
        ...     out.commit()
        >>> open(os.path.join(folder, "x.txt")).read(), os.listdir(folder)
        ('abc', ['x.txt'])
    """
    out = Staged(destination)
    try:
        yield out
    finally:
        os.close(out.fd)
        if not out.committed:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(out.path)


def mismatch(key: str, got: tuple[int, str | None], size: int | None, md5: str | None) -> str | None:
    """Why a file of ``got = (size, MD5)`` is not the one a manifest lists with ``size`` and ``md5``, or ``None``.

    Example:
        >>> mismatch("P/A/V/x", (3, "0" * 32), 4, None)
        "'P/A/V/x' arrived with 3 bytes, the manifest says 4"
    """
    if size is not None and got[0] != size:
        return f"'{key}' arrived with {got[0]} bytes, the manifest says {size}"
    if md5 is not None and got[1] != md5.lower():
        return f"'{key}' arrived with MD5 {got[1]}, the manifest says {md5}"
    return None


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
    present: set[str] = set()
    for folder, names in by_folder.items():
        os.makedirs(folder, exist_ok=True)
        present.update(os.path.join(folder, name) for name in names & set(os.listdir(folder)))
    return present


def write_atomic(destination: str, data: bytes) -> None:
    """Write ``data`` to ``destination`` through a temporary file and ``os.replace``."""
    make_parent(destination)
    write_beside(destination, data)


def write_beside(destination: str, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``destination``, then move it there; the folder exists."""
    with staged(destination) as out:
        write_all(out.fd, data)
        out.commit()


def write_all(fd: int, data: bytes | memoryview) -> None:
    """``os.write`` until all of ``data`` is written (one call, but for a write the kernel cut short)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def place_link(source: str, destination: str) -> None:
    """Make ``destination`` the same file as ``source``: hard link, else symlink, else copy; atomically."""
    make_parent(destination)
    with staged(destination) as out:
        os.unlink(out.path)
        try:
            os.link(source, out.path)
        except OSError:
            try:
                os.symlink(os.path.abspath(source), out.path)
            except OSError:
                shutil.copyfile(source, out.path)
        out.commit()
