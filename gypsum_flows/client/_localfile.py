"""Reading the files of an upload without trusting them: no FIFO blocks, a file that changes is noticed.

Every file is opened with ``O_NONBLOCK`` and checked with ``fstat`` to be a
regular file, so a FIFO swapped in after the folder was listed is refused
instead of blocking ``open()`` for ever. A file is sent with the size it had
when the upload began; reading fewer bytes, or finding another size or
modification time afterwards, raises :class:`GypsumFileChangedError` at once
(a retry would only send the stale size again).

Example:
    >>> import tempfile
    >>> with tempfile.NamedTemporaryFile() as tmp:
    ...     _ = tmp.write(b"abc"); tmp.flush()
    ...     read_whole(tmp.name, "abc.txt", os.stat(tmp.name))
    b'abc'
"""

from __future__ import annotations

import io
import os
import stat
from collections.abc import Callable

from ..errors import GypsumFileChangedError

_KINDS = {
    stat.S_IFIFO: "a FIFO (named pipe)",
    stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFDIR: "a folder",
    stat.S_IFLNK: "a symlink",
}
_OPEN_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0)


def kind_of(mode: int) -> str:
    """What a file of ``st_mode`` is, in words.

    Example:
        >>> kind_of(stat.S_IFIFO | 0o644)
        'a FIFO (named pipe)'
    """
    return _KINDS.get(stat.S_IFMT(mode), f"a special file (mode {stat.filemode(mode)})")


def not_regular(name: str, mode: int) -> ValueError:
    """The error for a path of an upload that is not a regular file."""
    return ValueError(f"cannot upload '{name}': it is {kind_of(mode)}, not a regular file")


def changed(name: str) -> GypsumFileChangedError:
    """The error for a file that changed while it was uploaded."""
    return GypsumFileChangedError(f"file changed while uploading: {name}")


def stat_regular(path: str, name: str) -> os.stat_result:
    """``os.stat`` of a file to upload; a :func:`not_regular` error for anything else."""
    info = os.stat(path)
    if not stat.S_ISREG(info.st_mode):
        raise not_regular(name, info.st_mode)
    return info


def open_regular(path: str, name: str) -> tuple[int, os.stat_result]:
    """A read-only descriptor of a regular file and its ``fstat``, opened without ever blocking."""
    fd = os.open(path, _OPEN_FLAGS)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise not_regular(name, info.st_mode)
    except BaseException:
        os.close(fd)
        raise
    return fd, info


def _same(now: os.stat_result, then: os.stat_result) -> bool:
    return now.st_size == then.st_size and now.st_mtime_ns == then.st_mtime_ns


def read_whole(path: str, name: str, expected: os.stat_result) -> bytes:
    """The bytes of a small file, which must still have the size and time of ``expected``."""
    fd, info = open_regular(path, name)
    with io.FileIO(fd, "rb") as handle:
        data = handle.readall()
    if len(data) != expected.st_size or not _same(info, expected):
        raise changed(name)
    return data


class StreamedFile(io.FileIO):
    """A file sent as a request body: exactly ``expected.st_size`` bytes or :func:`changed`.

    Reads are reported to ``on_bytes`` and rolled back when a retry rewinds
    the file. A read that comes up short (the file shrank) raises at once
    instead of leaving the server waiting for bytes that never come.
    """

    def __init__(self, path: str, name: str, expected: os.stat_result, on_bytes: Callable[[int], None]) -> None:
        fd, info = open_regular(path, name)
        super().__init__(fd, "rb")
        self._name, self._expected, self._on_bytes, self._sent = name, expected, on_bytes, 0
        if not _same(info, expected):
            self.close()
            raise changed(name)

    def __len__(self) -> int:  # requests sizes a body by len() before fstat()
        return self._expected.st_size

    def read(self, size: int | None = -1) -> bytes:
        left = self._expected.st_size - self._sent
        data = super().read(left if size is None or size < 0 else min(size, left)) if left > 0 else b""
        if left > 0 and not data:
            raise changed(self._name)
        self._sent += len(data)
        self._on_bytes(len(data))
        return data

    def seek(self, pos: int, whence: int = 0) -> int:
        where = super().seek(pos, whence)
        if where != self._sent:
            self._on_bytes(where - self._sent)
            self._sent = where
        return where

    def check_unchanged(self) -> None:
        """Raise :func:`changed` if the file's size or time moved while it was sent."""
        if not _same(os.fstat(self.fileno()), self._expected):
            raise changed(self._name)
