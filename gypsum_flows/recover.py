"""Recovery from uploads that never finished: the one place that decides what a version's state is and what
may be cleared (no Prefect; the ``recover`` command and flow, and every publishing flow, use it).

A process killed mid-upload leaves ``{P}/..LOCK`` in place, and with it a
partial version (a ``..summary`` without ``upload_finish``, some files). No
one can upload to the project until an admin clears it. :func:`recover`
finds every lock older than a threshold, unlocks the project, removes the
partial version the lock belongs to and reports what it did;
``dry_run=True`` only reports what it would do.

Safety rules:

- a lock's age is the server's ``Date`` minus the lock object's
  ``Last-Modified`` (both from one ``GET /file/{P}%2F..LOCK``), so the
  client's clock does not matter;
- a lock that changed since it was read (another session took the project)
  is left alone;
- a version is removed only if it is ``partial`` (no ``..summary`` but some
  files, or a summary without ``upload_finish``), checked again *after* the
  unlock, when the old session can no longer complete it: a ``complete``
  version is never removed.

A version is in one of three states (:data:`VersionState`): ``absent``,
``partial`` or ``complete``; every report and message uses these words.

The server's ``/remove`` takes the project lock itself, so the stale lock has
to go first; removal is retried while another operation briefly holds the
project.

The publishing flows use the same rule through :func:`settle_version`: when
the version they are about to publish is partial, a lock younger than the
threshold is waited for (another upload may be running), an older one is
recovered as here.

Example:
    >>> parse_duration("15m"), parse_duration("90"), parse_duration("1h30m")
    (900.0, 90.0, 5400.0)
    >>> report = recover(older_than=parse_duration("15m"), dry_run=True, url=server.url)  # doctest: +SKIP
    >>> [a.action for a in report.actions]  # doctest: +SKIP
    ['would-recover']
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Any, Literal

from . import _http
from .client import fetch_summary, list_files, list_projects, remove_version, unlock_project
from .client._util import file_url
from .constants import ENV_LOCK_WAIT, ENV_STALE_LOCK_AGE, LOCK_FILE, LOCK_WAIT, STALE_LOCK_AGE
from .errors import (
    GypsumError,
    GypsumLockedError,
    GypsumNotFoundError,
    GypsumPermissionError,
    GypsumTransientError,
    InterruptedUploadError,
    VersionBusyError,
)

#: What the version named by a lock looks like: finished, half-uploaded, or not there at all.
VersionState = Literal["complete", "partial", "absent"]
#: What recovery did (or, in a dry run, would do) with one lock.
ActionKind = Literal["recovered", "unlocked", "would-recover", "would-unlock", "fresh", "skipped", "failed"]

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhd])")
#: How long removal waits for other operations that hold the project after the unlock.
REMOVE_PATIENCE = 30.0


def _label(*parts: str) -> str:
    return "/".join(p for p in parts if p)


def parse_duration(text: str | float | int | timedelta) -> float:
    """Seconds from ``"15m"``, ``"2h"``, ``"1h30m"``, ``"45s"``, ``"3d"``, a plain number or a timedelta.

    Raises:
        ValueError: The text is not a non-negative duration.

    Example:
        >>> parse_duration("2h"), parse_duration(timedelta(minutes=1))
        (7200.0, 60.0)
    """
    if isinstance(text, timedelta):
        return text.total_seconds()
    if isinstance(text, (int, float)):
        seconds = float(text)
    else:
        spec = text.strip().lower().replace(" ", "")
        try:
            seconds = float(spec)
        except ValueError:
            parts = _DURATION.findall(spec)
            if not parts or "".join(n + u for n, u in parts) != spec:
                raise ValueError(f"invalid duration {text!r}: use e.g. 90, 45s, 15m, 2h, 1h30m or 3d") from None
            seconds = sum(float(n) * _UNITS[u] for n, u in parts)
    if seconds < 0:
        raise ValueError(f"invalid duration {text!r}: must not be negative")
    return seconds


@dataclass(frozen=True)
class ProjectLock:
    """A project's ``..LOCK``: who it is for, when it was written, how old it is by the server's clock."""

    project: str
    asset: str
    version: str
    session_hash: str
    locked_at: datetime
    age_seconds: float
    readable: bool = True

    @property
    def label(self) -> str:
        """``project/asset/version`` (parts the lock leaves empty are omitted).

        Example:
            >>> ProjectLock("p", "a", "v1", "h", datetime.now(timezone.utc), 5.0).label
            'p/a/v1'
        """
        return _label(self.project, self.asset, self.version)


@dataclass
class RecoveryAction:
    """What happened to one lock: ``action``, the state of its version, and why."""

    project: str
    asset: str
    version: str
    age_seconds: float
    action: ActionKind
    version_state: VersionState
    removed_version: bool = False
    detail: str = ""

    @property
    def label(self) -> str:
        """``project/asset/version`` (parts the lock leaves empty are omitted)."""
        return _label(self.project, self.asset, self.version)


@dataclass
class RecoveryReport:
    """The result of one :func:`recover` run, one :class:`RecoveryAction` per lock found."""

    url: str
    older_than_seconds: float
    dry_run: bool
    projects_checked: int
    actions: list[RecoveryAction] = field(default_factory=list)

    @property
    def failed(self) -> list[RecoveryAction]:
        """The locks that could not be handled (each action's ``detail`` says why)."""
        return [a for a in self.actions if a.action == "failed"]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data.

        Example:
            >>> RecoveryReport("http://x", 900.0, True, 0).to_dict()["actions"]
            []
        """
        return asdict(self)

    def summary(self) -> str:
        """One readable line per lock, after a header line.

        Example:
            >>> print(RecoveryReport("http://x", 900.0, True, 3).summary())
            dry run: 3 projects checked, 0 locks found (threshold 900s)
        """
        head = f"{'dry run' if self.dry_run else 'recover'}: {self.projects_checked} projects checked, "
        lines = [head + f"{len(self.actions)} locks found (threshold {self.older_than_seconds:g}s)"]
        for a in self.actions:
            lines.append(
                f"  {a.action:13} {a.label} (lock age {a.age_seconds:.0f}s, version {a.version_state})"
                + (f": {a.detail}" if a.detail else "")
            )
        return "\n".join(lines)


def _http_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def read_lock(project: str, url: str | None = None, attempts: int = 3) -> ProjectLock | None:
    """The lock of ``project``, or ``None`` if it is not locked.

    Example:
        >>> read_lock("test-R", url=server.url) is None  # doctest: +SKIP
        True
    """
    target = file_url(_http.resolve_url(url), f"{project}/{LOCK_FILE}")
    for attempt in range(attempts):
        try:
            response = _http.request("GET", target, check_body=False)
        except GypsumNotFoundError:
            return None
        locked_at = _http_date(response.headers.get("Last-Modified"))
        now = _http_date(response.headers.get("Date")) or datetime.now(timezone.utc)
        try:
            body = response.json()
        except GypsumTransientError:  # not JSON
            body = None
        if locked_at is None:
            continue
        if isinstance(body, dict) or attempt == attempts - 1:
            # A body that stays unreadable is a corrupt lock: it names no version and blocks everyone.
            fields = body if isinstance(body, dict) else {}
            return ProjectLock(
                project=project,
                asset=str(fields.get("asset", "")),
                version=str(fields.get("version", "")),
                session_hash=str(fields.get("session_hash", "")),
                locked_at=locked_at,
                age_seconds=max(0.0, (now - locked_at).total_seconds()),
                readable=isinstance(body, dict),
            )
    raise GypsumTransientError(f"lock of project '{project}' has no Last-Modified date", url=target)


def find_locks(projects: list[str] | None = None, url: str | None = None) -> tuple[int, list[ProjectLock]]:
    """Every lock among ``projects`` (default: all projects); returns (projects checked, locks).

    Example:
        >>> checked, locks = find_locks(url=server.url)  # doctest: +SKIP
    """
    names = list_projects(url=url) if projects is None else list(projects)
    locks = [lock for name in names if (lock := read_lock(name, url=url)) is not None]
    return len(names), locks


def version_state(project: str, asset: str, version: str, url: str | None = None) -> VersionState:
    """Whether a version is complete, partial (upload never finished) or absent.

    Example:
        >>> version_state("test-R", "basic", "v1", url=server.url)  # doctest: +SKIP
        'complete'
    """
    if not asset or not version:
        return "absent"  # locks of project- and asset-wide operations name no version
    try:
        summary = fetch_summary(project, asset, version, cache_dir=False, url=url)
    except GypsumNotFoundError:
        return "partial" if list_files(project, asset, version, url=url) else "absent"
    return "complete" if "upload_finish" in summary else "partial"


def remove_if_partial(
    project: str,
    asset: str,
    version: str,
    url: str | None = None,
    token: str | None = None,
    patience: float = REMOVE_PATIENCE,
) -> VersionState:
    """Remove a version if it is partial, waiting (with backoff) while another short operation holds the project.

    Call it only once no session can complete the version any more (its lock is gone).

    Returns:
        The state found: ``"partial"`` (now removed), ``"complete"`` or ``"absent"`` (left as they are).

    Example:
        >>> remove_if_partial("proj", "a", "v1", url=server.url, token=admin_token)  # doctest: +SKIP
        'partial'
    """
    state = version_state(project, asset, version, url=url)
    if state != "partial":
        return state
    deadline = time.monotonic() + patience
    delay = 0.2
    while True:
        try:
            remove_version(project, asset, version, url=url, token=token)
            return state
        except GypsumLockedError:
            if time.monotonic() + delay > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 5.0)


def recover_lock(
    lock: ProjectLock,
    dry_run: bool = False,
    url: str | None = None,
    token: str | None = None,
    patience: float = REMOVE_PATIENCE,
) -> RecoveryAction:
    """Clear one stale lock: unlock the project, then remove its version if (still) partial.

    Args:
        lock: A lock from :func:`read_lock` or :func:`find_locks`.
        dry_run: Only say what would be done.
        url: gypsum REST URL; default :func:`gypsum_flows.client.rest_url`.
        token: An admin's token; default the client's (``GYPSUM_TOKEN``, the cached token).
        patience: Seconds to keep retrying the removal while another operation holds the project.

    Returns:
        What was done; ``skipped`` when the project was locked again by someone else meanwhile.

    Example:
        >>> lock = read_lock("proj", url=server.url)  # doctest: +SKIP
        >>> recover_lock(lock, url=server.url, token=admin_token).action  # doctest: +SKIP
        'recovered'
    """
    state = version_state(lock.project, lock.asset, lock.version, url=url)
    action = RecoveryAction(lock.project, lock.asset, lock.version, lock.age_seconds, "skipped", state)
    if not lock.readable:
        action.detail = "the lock is not valid JSON, so it names no version; any partial version stays"
    if dry_run:
        action.action = "would-recover" if state == "partial" else "would-unlock"
        return action
    current = read_lock(lock.project, url=url)
    if current is not None and (current.session_hash, current.locked_at) != (lock.session_hash, lock.locked_at):
        action.detail = "the project was locked again by another operation since the lock was read"
        return action
    if current is not None:
        unlock_project(lock.project, url=url, token=token)
    # Checked again now that the old session can no longer complete: a complete version is never removed.
    action.version_state = remove_if_partial(lock.project, lock.asset, lock.version, url, token, patience)
    action.removed_version = action.version_state == "partial"
    action.action = "recovered" if action.removed_version else "unlocked"
    return action


def recover(
    older_than: float | str | timedelta = STALE_LOCK_AGE,
    dry_run: bool = False,
    projects: list[str] | None = None,
    url: str | None = None,
    token: str | None = None,
) -> RecoveryReport:
    """Find locks older than ``older_than``, clear them and remove the partial versions they guarded.

    Locks younger than the threshold belong to uploads that may still be
    running: they are reported as ``fresh`` and left alone.

    Args:
        older_than: Age threshold, in seconds or as text (``"15m"``, ``"2h"``).
        dry_run: List what would be done without changing anything (needs no token).
        projects: Only look at these projects (default: every project).
        url: gypsum REST URL; default :func:`gypsum_flows.client.rest_url`.
        token: An admin's token; default the client's (``GYPSUM_TOKEN``, the cached token).

    Returns:
        A :class:`RecoveryReport`, one action per lock found; a lock that could not be
        handled is a ``failed`` action and does not stop the others.

    Example:
        >>> report = recover("15m", url=server.url, token=admin_token)  # doctest: +SKIP
        >>> print(report.summary())  # doctest: +SKIP
        recover: 12 projects checked, 1 locks found (threshold 900s)
          recovered     demo/a/v2 (lock age 1830s, version partial)
    """
    threshold = parse_duration(older_than)
    checked, locks = find_locks(projects, url=url)
    report = RecoveryReport(_http.resolve_url(url), threshold, dry_run, checked)
    for lock in locks:
        try:
            report.actions.append(handle_lock(lock, threshold, dry_run, url, token))
        except GypsumError as exc:  # one project's failure must not stop the others' recovery
            report.actions.append(failed_action(lock, exc))
    return report


def failed_action(lock: ProjectLock, exc: BaseException) -> RecoveryAction:
    """The report row of a lock whose handling failed with ``exc``.

    Example:
        >>> lock = ProjectLock("p", "a", "v1", "h", datetime.now(timezone.utc), 1000.0)
        >>> failed_action(lock, GypsumTransientError("busy", status=503)).detail
        'GypsumTransientError: 503 busy'
    """
    detail = f"{type(exc).__name__}: {exc}"
    return RecoveryAction(lock.project, lock.asset, lock.version, lock.age_seconds, "failed", "absent", detail=detail)


def handle_lock(
    lock: ProjectLock, older_than: float, dry_run: bool = False, url: str | None = None, token: str | None = None
) -> RecoveryAction:
    """:func:`recover_lock` if ``lock`` is at least ``older_than`` seconds old, else report it as ``fresh``.

    A younger lock belongs to an upload that may still be running: it is left alone.

    Example:
        >>> handle_lock(read_lock("proj", url=server.url), 900.0, url=server.url).action  # doctest: +SKIP
        'fresh'
    """
    if lock.age_seconds >= older_than:
        return recover_lock(lock, dry_run, url, token)
    state = version_state(lock.project, lock.asset, lock.version, url=url)
    return RecoveryAction(lock.project, lock.asset, lock.version, lock.age_seconds, "fresh", state)


def lock_rules() -> tuple[float, float]:
    """(stale age, wait) in seconds for the publishing flows: ``GYPSUM_STALE_LOCK_AGE`` (default
    :data:`STALE_LOCK_AGE`, as ``recover``) and ``GYPSUM_LOCK_WAIT`` (default :data:`LOCK_WAIT`), read now.

    Example:
        >>> lock_rules()  # doctest: +SKIP
        (900.0, 600.0)
    """
    return (
        parse_duration(os.environ.get(ENV_STALE_LOCK_AGE) or STALE_LOCK_AGE),
        parse_duration(os.environ.get(ENV_LOCK_WAIT) or LOCK_WAIT),
    )


def settle_version(
    project: str,
    asset: str,
    version: str,
    recover: bool = True,
    url: str | None = None,
    token: str | None = None,
    rules: tuple[float, float] | None = None,
    report: Callable[[str], None] | None = None,
) -> VersionState:
    """Bring a partial version to an end: wait for a live upload, clear a dead one.

    The rule is :func:`recover`'s. While the version is partial:

    - its own lock younger than the stale age (``rules[0]``): another upload
      may be running; poll until it completes or is aborted, for at most
      ``rules[1]`` seconds, then raise :class:`VersionBusyError`;
    - its own lock at least that old: recovered with :func:`recover_lock`
      (admin token);
    - no lock: no session can complete it any more, so it is removed (admin token);
    - a lock for another asset or version: never touched; :class:`InterruptedUploadError`.

    A stale or lockless version with ``recover=False``, or without an admin's
    token, raises :class:`InterruptedUploadError` saying what an admin must do.

    Args:
        rules: (stale age, wait) in seconds; default :func:`lock_rules`.
        report: Called with a message when waiting starts and when something was cleared.

    Returns:
        ``"complete"`` or ``"absent"``.

    Example:
        >>> settle_version("proj", "a", "v1", url=server.url, token=admin_token)  # doctest: +SKIP
        'complete'
    """
    stale, wait = rules or lock_rules()
    say = report or (lambda message: None)
    label = _label(project, asset, version)
    deadline = time.monotonic() + wait
    delay, waiting = 0.2, False
    while (state := version_state(project, asset, version, url=url)) == "partial":
        lock = read_lock(project, url=url)
        if lock is not None and (lock.asset, lock.version) != (asset, version):
            raise InterruptedUploadError(
                f"{label} is partial, but project {project!r} is locked by another operation ({lock.label}); "
                "left alone: retry later, or ask an admin to run `gypsum-flows recover`"
            )
        if lock is not None and lock.age_seconds < stale:
            if time.monotonic() >= deadline:
                raise VersionBusyError(
                    f"{label} is being uploaded by another session (lock {lock.age_seconds:.0f}s old); waited "
                    f"{wait:g}s for it to finish: re-run when it is done (a lock older than {stale:g}s counts "
                    "as stale and is cleared by publish with an admin token, or by `gypsum-flows recover`)"
                )
            if not waiting:
                say(
                    f"{label} is being uploaded by another session (lock {lock.age_seconds:.0f}s old, stale after "
                    f"{stale:g}s): waiting up to {wait:g}s for it to finish"
                )
                waiting = True
            time.sleep(max(0.0, min(delay, deadline - time.monotonic())))
            delay = min(delay * 1.5, 5.0)
            continue
        _clear(lock, (project, asset, version), recover, url, token, say)
    return state


def _clear(
    lock: ProjectLock | None,
    pav: tuple[str, str, str],
    recover: bool,
    url: str | None,
    token: str | None,
    say: Callable[[str], None],
) -> None:
    """Clear a dead upload of ``pav``: its stale ``lock`` (recover_lock), or a partial version without a lock."""
    label = _label(*pav)
    how = "an interrupted upload" + (f" (lock {lock.age_seconds:.0f}s old)" if lock else " (its lock is gone)")
    if not recover:
        raise InterruptedUploadError(
            f"{label} was left partial by {how}; rerun with recovery enabled (admin token) "
            "or ask an admin to run `gypsum-flows recover`"
        )
    try:
        if lock is not None:
            removed = recover_lock(lock, url=url, token=token).removed_version
        else:
            removed = remove_if_partial(*pav, url=url, token=token) == "partial"
    except GypsumLockedError:
        raise
    except GypsumPermissionError as exc:
        raise InterruptedUploadError(
            f"{label} was left partial by {how}; an admin must clear it (`gypsum-flows recover`, or "
            f"unlock_project then remove_version) before it can be published: {exc.reason}"
        ) from None
    if removed:
        say(f"Removed the partial version {label} left by {how}")
