"""Waiting in tests: poll for what should happen, on a deadline, instead of sleeping a fixed time.

A fixed sleep is a guess about how fast the machine is: too short under load
(the test flakes), too long otherwise (the suite crawls). These helpers
return as soon as the condition holds and fail with a message when it never
does.

Example:
    >>> wait_until(lambda: 42, "the answer")
    42
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

#: Seconds a test waits for something that takes milliseconds on an idle machine.
DEADLINE = 60.0


def wait_until(condition: Callable[[], T], what: str, timeout: float = DEADLINE, interval: float = 0.005) -> T:
    """The first true value of ``condition()``, polled every ``interval`` seconds; AssertionError after ``timeout``.

    Example:
        >>> wait_until(lambda: [1], "a non-empty list")
        [1]
    """
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


def next_millisecond() -> None:
    """Return once the wall clock shows a later millisecond than at the call (for names stamped in milliseconds).

    Example:
        >>> start = time.time_ns() // 1_000_000
        >>> next_millisecond()
        >>> time.time_ns() // 1_000_000 > start
        True
    """
    start = time.time_ns() // 1_000_000
    wait_until(lambda: time.time_ns() // 1_000_000 > start, "the clock to reach the next millisecond", interval=0.0005)


def restamp(path: Path, change: Callable[[Path], object], stamp: str = "st_mtime_ns") -> None:
    """Apply ``change`` to ``path`` until its ``stamp`` (a stat field) differs from before: file times tick coarsely.

    Example:
        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp()) / "a.txt"
        >>> _ = path.write_text("one")
        >>> before = path.stat().st_mtime_ns
        >>> restamp(path, lambda p: p.write_text("two"))
        >>> path.stat().st_mtime_ns != before
        True
    """
    before = getattr(os.stat(path), stamp)

    def changed() -> bool:
        change(path)
        return getattr(os.stat(path), stamp) != before

    wait_until(changed, f"a new {stamp} on {path}")
