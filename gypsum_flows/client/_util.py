"""Helpers shared by the client families: URLs, JSON reads, datetimes, uploaders, thread pools.

Example:
    >>> cast_datetime("2024-05-01T12:34:56.789Z")
    datetime.datetime(2024, 5, 1, 12, 34, 56)
    >>> sanitize_path("foo//bar.txt")
    'foo/bar.txt'
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timezone
from typing import Any, TypeVar

from .. import _http, cache
from ..constants import MANIFEST_FILE
from ..errors import GypsumNotFoundError, GypsumUnsafeResponseError
from ..names import version_key
from . import untrusted
from .fetch import read_json, save_object

T = TypeVar("T")
R = TypeVar("R")

#: Worker threads used by save_version and upload_files unless told otherwise.
DEFAULT_CONCURRENCY = 8
_DONE = object()


def file_url(url: str, key: str) -> str:
    """The ``/file`` URL of an object key (percent-encoded, so ``/`` and spaces survive)."""
    return f"{url}/file/{_http.quote_key(key)}"


def names_path(*names: str) -> str:
    """Path segments for ``/endpoint/P/A/V`` style URLs, each percent-encoded."""
    return "/".join(_http.quote_key(n) for n in names)


def fetch_json(key: str, url: str, check: untrusted.DocumentCheck = untrusted.any_json) -> Any:
    """The JSON document stored at ``key``, passed through ``check`` (see :mod:`.untrusted`)."""
    try:
        doc = read_json(file_url(url, key))
    except GypsumUnsafeResponseError as exc:  # too large or too deep: say which document
        raise untrusted.refusal(exc.reason, key, url) from None
    return check(doc, key, url)


def list_keys(url: str, prefix: str | None, recursive: bool) -> Any:
    """The server's ``/list`` answer for ``prefix`` (unchecked: see :func:`untrusted.listed_names`)."""
    params = {"recursive": "true" if recursive else "false", **({"prefix": prefix} if prefix is not None else {})}
    return read_json(f"{url}/list", params=params)


def paired(
    items: Iterable[T], replies: Iterator[R], about: Callable[[Exception, T], Exception]
) -> Iterator[tuple[T, R]]:
    """Each of ``items`` with its reply from ``replies``; a failure is raised as ``about(error, item)``."""
    for item in items:
        try:
            reply = next(replies)
        except Exception as exc:
            raise about(exc, item) from exc
        yield item, reply


def fetch_cacheable_json(
    project: str, asset: str, version: str, path: str, cache_dir: str | bool, url: str, overwrite: bool
) -> Any:
    """A version's internal JSON file, checked by :func:`untrusted.check_for`, through the cache unless
    ``cache_dir`` is ``False``.

    A document refused by the check never enters the cache. One found in the cache is checked too, and
    fetched again if it fails (another client may have written it without this check).
    """
    key = version_key(project, asset, version, path)
    if cache_dir is False:
        return fetch_json(key, url, untrusted.check_for(path))
    destination = cache.version_file(str(cache_dir), project, asset, version, path)
    fetched: list[Any] = []
    verify = untrusted.body_check(path, key, url, keep=fetched)
    save_object(file_url(url, key), destination, key=key, overwrite=overwrite, verify=verify)
    if not fetched:  # it was in the cache already
        with open(destination, "rb") as handle:
            body = handle.read()
        with contextlib.suppress(GypsumUnsafeResponseError):
            if verify(body) is None:
                return fetched[0]
        save_object(file_url(url, key), destination, key=key, overwrite=True, verify=verify)
    return fetched[-1]


def load_manifest(
    project: str, asset: str, version: str, cache_dir: str | bool, url: str, overwrite: bool = False
) -> dict:
    """A version's manifest, cached unless ``cache_dir`` is ``False``; checked by :func:`untrusted.manifest`.

    A missing version's error lists the versions that exist.
    """
    try:
        return fetch_cacheable_json(project, asset, version, MANIFEST_FILE, cache_dir, url, overwrite)
    except GypsumNotFoundError as exc:
        from .explain import existing_versions, version_not_found

        raise version_not_found(project, asset, version, exc, existing_versions(project, asset, url)) from None


def cast_datetime(value: str) -> datetime:
    """A naive UTC datetime from gypsum's ISO strings, as gypsum_client returns them (no fractions)."""
    text = value.split(".")[0] if "." in value else value
    text = text[:-1] if text.endswith("Z") else text
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S")
    except ValueError:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if parsed.tzinfo is not None:
            parsed = parsed.astimezone(timezone.utc).replace(tzinfo=None)
        return parsed.replace(microsecond=0)


def sanitize_path(path: str) -> str:
    """Forward slashes only, no repeated ``/`` (as gypsum_client)."""
    if os.sep != "/":
        path = path.replace(os.sep, "/")
    return re.sub(r"//+", "/", path)


def sanitize_uploaders(uploaders: Iterable[dict]) -> list[dict]:
    """Copies of ``uploaders`` with each ``until`` as an ISO string (``Z`` for UTC) the server accepts."""
    out = []
    for entry in uploaders:
        entry = dict(entry)
        until = entry.get("until")
        if until is not None:
            if isinstance(until, str):
                until = cast_datetime(until)
            entry["until"] = until.isoformat().replace("+00:00", "Z")
        out.append(entry)
    return out


def run_parallel(items: Iterable[T], work: Callable[[T], None], concurrent: int) -> None:
    """Call ``work(item)`` for every item on up to ``concurrent`` threads.

    The threads take items one at a time from a shared iterator (no future
    per item: a version may have many thousands of small files). The first
    failure stops what has not started and is raised once the running calls
    have finished; so does an interrupt.

    Example:
        >>> out = []
        >>> run_parallel([1, 2, 3], out.append, concurrent=2)
        >>> sorted(out)
        [1, 2, 3]
    """
    items = list(items)
    if concurrent <= 1 or len(items) <= 1:
        for item in items:
            work(item)
        return
    pending, guard, stop, failures = iter(items), threading.Lock(), threading.Event(), []

    def worker() -> None:
        while not stop.is_set():
            with guard:
                item = next(pending, _DONE)
            if item is _DONE:
                return
            try:
                work(item)  # type: ignore[arg-type]
            except BaseException as exc:  # noqa: BLE001 - re-raised in the calling thread
                failures.append(exc)
                stop.set()

    threads = [
        threading.Thread(target=worker, name=f"gypsum-{i}", daemon=True) for i in range(min(concurrent, len(items)))
    ]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        stop.set()  # on an interrupt, what has not started never starts
        for thread in threads:
            if thread.is_alive():
                thread.join()
    if failures:
        raise failures[0]
