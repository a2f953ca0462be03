"""Progress reporting for long transfers: a callback, or a rich progress bar in a terminal.

Library calls are quiet by default. ``progress=`` on ``save_version``,
``upload_files`` and ``upload_directory`` accepts:

- ``None`` or ``False``: nothing is reported;
- ``True``: a progress bar on standard error, only when it is a terminal;
- a callable: called with a :class:`TransferProgress` after every chunk and file.

Example:
    >>> seen = []
    >>> with Reporter("demo", files_total=1, bytes_total=3, progress=seen.append) as report:
    ...     report.add_bytes(3)
    ...     report.file_done("a.txt")
    >>> seen[-1]
    TransferProgress(files_done=1, files_total=1, bytes_done=3, bytes_total=3, path='a.txt')
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class TransferProgress:
    """Where a transfer stands: files and bytes done out of the totals, and the last file touched."""

    files_done: int
    files_total: int
    bytes_done: int
    bytes_total: int
    path: str | None = None


ProgressCallback = Callable[[TransferProgress], None]
ProgressOption = bool | ProgressCallback | None


class Reporter:
    """Thread-safe counters that feed a callback or a rich progress bar."""

    def __init__(self, description: str, *, files_total: int, bytes_total: int, progress: ProgressOption) -> None:
        self.description = description
        self.files_total, self.bytes_total = files_total, bytes_total
        self.files_done = self.bytes_done = 0
        self._lock = threading.Lock()
        self._callback = progress if callable(progress) else None
        self._bar: Any = None
        self._task: Any = None
        if progress is True and sys.stderr.isatty():
            self._start_bar()

    def _start_bar(self) -> None:
        from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

        self._bar = Progress(
            TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(), transient=True
        )
        self._bar.start()
        self._task = self._bar.add_task(self.description, total=self.bytes_total or None)

    def _emit(self, path: str | None) -> None:
        if self._callback is None and self._bar is None:
            return
        snapshot = TransferProgress(self.files_done, self.files_total, self.bytes_done, self.bytes_total, path)
        if self._callback:
            self._callback(snapshot)
        if self._bar is not None:
            self._bar.update(self._task, completed=snapshot.bytes_done)

    def add_bytes(self, count: int, path: str | None = None) -> None:
        """Count ``count`` more bytes (negative when a failed attempt is rolled back)."""
        with self._lock:
            self.bytes_done += count
            self._emit(path)

    def file_done(self, path: str, unreported_bytes: int = 0) -> None:
        """Count one more finished file, plus its bytes that were not transferred (already present)."""
        with self._lock:
            self.files_done += 1
            self.bytes_done += unreported_bytes
            self._emit(path)

    def __enter__(self) -> Reporter:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()
