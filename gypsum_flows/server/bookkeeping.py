"""Server bookkeeping shared by uploads, probation and removal: the latest version, usage and logs.

``..latest``, ``..usage`` and the ``..logs/`` entries (sections 2.3, 2.4, 2.8 of docs/gypsum-api.md).

Example:
    >>> len(now_iso()), now_iso().endswith("Z")
    (24, True)
"""

from __future__ import annotations

import secrets
import time
import weakref
from datetime import datetime, timedelta, timezone
from typing import Any

from ..constants import LATEST_FILE, LOGS_PREFIX, SUMMARY_FILE, USAGE_FILE
from .permissions import parse_time
from .storage import Bucket
from .web import HttpError

#: How long ``..logs/`` entries are kept: the reference's daily job deletes older ones (section 2.8 of docs/gypsum-api.md).
LOG_RETENTION = timedelta(days=7)
#: Seconds between two purges of old log entries, as the reference's daily job.
_PURGE_INTERVAL = 24 * 3600.0
#: When each served bucket's old log entries were last purged (``time.monotonic()``).
_last_purge: weakref.WeakKeyDictionary[Bucket, float] = weakref.WeakKeyDictionary()


def now_iso(now: datetime | None = None) -> str:
    """``now`` (default: the current time) in UTC as JavaScript's ``toISOString()`` writes it (milliseconds, ``Z``)."""
    now = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def write_log(bucket: Bucket, entry: dict[str, Any]) -> None:
    """Append one ``..logs/{ISO time}_{6 digits}`` entry; the first of a server's run, and then one a day,
    also deletes the entries older than :data:`LOG_RETENTION`."""
    suffix = 100000 + secrets.randbelow(900000)
    bucket.put_json(f"{LOGS_PREFIX}{now_iso()}_{suffix}", entry)
    if time.monotonic() - _last_purge.get(bucket, -_PURGE_INTERVAL) >= _PURGE_INTERVAL:
        _last_purge[bucket] = time.monotonic()
        purge_logs(bucket)


def purge_logs(bucket: Bucket, now: datetime | None = None) -> int:
    """Delete the ``..logs/`` entries older than :data:`LOG_RETENTION` before ``now``; how many.

    As the reference's daily job: an entry goes when its name sorts below the ISO time of the cutoff.
    """
    cutoff = LOGS_PREFIX + now_iso((now or datetime.now(timezone.utc)) - LOG_RETENTION)
    old = [key for key in bucket.list(LOGS_PREFIX, recursive=True) if key < cutoff]
    for key in old:
        bucket.delete(key)
    return len(old)


def _finish_time(summary: dict[str, Any]) -> datetime | None:
    finish = summary.get("upload_finish")
    return parse_time(finish) if isinstance(finish, str) else None


def is_later_than_latest(bucket: Bucket, project: str, asset: str, summary: dict[str, Any]) -> bool:
    """Whether a version with ``summary`` finished strictly after the current latest (or none exists)."""
    latest = bucket.get_json(f"{project}/{asset}/{LATEST_FILE}")
    if latest is None:
        return True
    current = bucket.get_json(f"{project}/{asset}/{latest.get('version')}/{SUMMARY_FILE}") or {}
    mine, theirs = _finish_time(summary), _finish_time(current)
    return theirs is None or (mine is not None and mine > theirs)


def recompute_latest(bucket: Bucket, project: str, asset: str) -> str | None:
    """Rewrite ``..latest`` as the finished non-probational version with the latest finish.

    Deletes ``..latest`` when there is none. Returns the version or ``None``.
    """
    best: tuple[datetime, str] | None = None
    for folder in bucket.list(f"{project}/{asset}/", recursive=False):
        if not folder.endswith("/"):
            continue
        version = folder[:-1].rpartition("/")[2]
        if version.startswith(".."):
            continue
        summary = bucket.need_json(f"{folder}{SUMMARY_FILE}")
        finish = _finish_time(summary)
        if summary.get("on_probation") or finish is None:
            continue
        if best is None or finish > best[0]:
            best = (finish, version)
    key = f"{project}/{asset}/{LATEST_FILE}"
    if best is None:
        bucket.delete(key)
        return None
    bucket.put_json(key, {"version": best[1]})
    return best[1]


def add_usage(bucket: Bucket, project: str, delta: int) -> None:
    """Add ``delta`` bytes (negative when freeing) to ``..usage``, clamped at 0."""
    key = f"{project}/{USAGE_FILE}"
    usage = bucket.need_json(key)
    usage["total"] = max(0, int(usage.get("total", 0)) + delta)
    bucket.put_json(key, usage)


def require_summary(bucket: Bucket, project: str, asset: str, version: str) -> dict[str, Any]:
    """The version's summary (400 ``version does not exist`` if missing)."""
    summary = bucket.get_json(f"{project}/{asset}/{version}/{SUMMARY_FILE}")
    if summary is None:
        raise HttpError("version does not exist", 400)
    return summary
