"""Downloads into the cache and JSON reads: verified, atomic, resumed, within one retry budget per request.

Every download goes to a :func:`cache.staged` file beside its destination,
is checked against the manifest's size and MD5 when they are known, and is
moved into place; a file that keeps arriving corrupted raises
:class:`~gypsum_flows.errors.GypsumIntegrityError` and never enters the
cache. No more than one byte beyond the expected size is ever read: a longer
body is refused (:class:`~gypsum_flows.errors.GypsumUnsafeResponseError`).

A transfer that broke off resumes with a ``Range`` request, and one that
arrived with the wrong bytes (or JSON that does not parse) is fetched again,
at most :data:`DOWNLOAD_ATTEMPTS` deliveries; both within the
:class:`~gypsum_flows._http.Budget` of that request, so a file is sent at
most :data:`~gypsum_flows._http.ATTEMPTS` times whatever goes wrong.

A large file is received, written and hashed at once: this thread reads the
socket straight into one of a few buffers and writes it with ``os.write``,
while a second thread hashes the same buffer meanwhile (``hashlib`` releases
the GIL), so a verified download costs little more than its MD5 alone.

Example:
    >>> body_limit(None) == MAX_DOCUMENT_SIZE, body_limit(52)
    (True, 52)
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import queue
import threading
from collections.abc import Callable, Mapping
from typing import Any

from .. import _http, cache
from ..constants import MAX_DOCUMENT_SIZE, SMALL_FILE_SIZE
from ..errors import GypsumIntegrityError, GypsumTransientError, GypsumUnsafeResponseError
from . import untrusted

#: Deliveries of one download (or JSON document) that may arrive with the wrong bytes before it is given up on.
DOWNLOAD_ATTEMPTS = 3
#: Downloads of at least this many bytes are hashed on a thread of their own.
_THREADED_MD5_SIZE = 16 << 20
#: Bytes per read (and write) of a streamed download, and the buffers that circulate between receiving and hashing.
_CHUNK = 4 << 20
_BUFFERS = 4

ByteCallback = Callable[[int], None]
#: Checks a downloaded body beyond size and MD5: what is wrong with it (it may be garbled: fetched again), or
#: ``None``; raises to refuse it outright.
BodyCheck = Callable[[bytes], "str | None"]


def body_limit(size: int | None) -> int:
    """The most bytes a whole-read body may have: the manifest's ``size``, else :data:`MAX_DOCUMENT_SIZE`."""
    return MAX_DOCUMENT_SIZE if size is None else size


def naming(exc: Exception, key: str, url: str) -> Exception:
    """``exc``; or, for a body refused as unsafe, the refusal naming the object ``key`` (the transport knows its URL)."""
    return untrusted.refusal(exc.reason, key, url) if isinstance(exc, GypsumUnsafeResponseError) else exc


def _oversized(key: str, url: str, declared: int | None, size: int) -> GypsumUnsafeResponseError:
    what = f"declared a body of {declared} bytes" if declared is not None else "sent a longer body"
    return untrusted.refusal(f"the server {what}, more than the {size} bytes expected", key, url)


def read_json(
    url: str,
    *,
    method: str = "GET",
    token: str | None = None,
    params: Mapping[str, str] | None = None,
    limit: int = MAX_DOCUMENT_SIZE,
    check_body: bool = False,
    budget: _http.Budget | None = None,
    wrong: int = 0,
) -> Any:
    """The JSON body of a safe request (a ``GET`` unless told); a body that does not parse is fetched again.

    At most :data:`DOWNLOAD_ATTEMPTS` deliveries that do not parse (``wrong``
    of them came already, with ``budget``), all within the request's budget.

    Raises:
        GypsumUnsafeResponseError: The body is longer than ``limit`` bytes or nested too deeply to parse.
        GypsumTransientError: The body kept arriving garbled, or the server kept failing.

    Example:
        >>> read_json("http://127.0.0.1:8787/list", params={"prefix": "test-R/"})  # doctest: +SKIP
        ['test-R/basic/']
    """
    budget = budget or _http.Budget()
    while True:
        reply = _http.request(
            method, url, token=token, params=params, limit=limit, budget=budget, check_body=check_body
        )
        try:
            return reply.json()
        except GypsumTransientError as exc:
            wrong += 1
            if wrong >= DOWNLOAD_ATTEMPTS or not budget.repeat():
                raise budget.tag(exc) from None


def again(sent: int = 1) -> _http.Budget:
    """The budget of a safe request already sent ``sent`` times (by :func:`_http.request_many`), to send it again."""
    budget = _http.Budget()
    budget.sent = sent
    budget.repeat()
    return budget


# ---------------------------------------------------------------------------------------------------
# Small files and documents: one response read whole.


def _keep_body(
    destination: str,
    body: bytes,
    key: str,
    size: int | None,
    md5: str | None,
    on_bytes: ByteCallback | None,
    verify: BodyCheck | None,
) -> str:
    """Write ``body`` to ``destination`` atomically if it is intact; otherwise what is wrong (nothing written)."""
    problem = cache.mismatch(key, (len(body), hashlib.md5(body).hexdigest()), size, md5) or ""
    if not problem and verify is not None and (bad := verify(body)):
        problem = f"'{key}' {bad}"
    if not problem:
        cache.write_beside(destination, body)
        if on_bytes:
            on_bytes(len(body))
    return problem


def _download_whole(
    url: str,
    destination: str,
    key: str,
    size: int | None,
    md5: str | None,
    on_bytes: ByteCallback | None,
    verify: BodyCheck | None,
    budget: _http.Budget | None = None,
    wrong: int = 0,
) -> None:
    """Fetch ``url`` whole until it arrives intact; ``budget`` and ``wrong`` count what earlier deliveries spent."""
    budget = budget or _http.Budget()
    while True:
        try:
            body = _http.request("GET", url, check_body=False, limit=body_limit(size), budget=budget).body
        except GypsumUnsafeResponseError as exc:
            raise naming(exc, key, url) from None
        problem = _keep_body(destination, body, key, size, md5, on_bytes, verify)
        if not problem:
            return
        wrong += 1
        if wrong >= DOWNLOAD_ATTEMPTS or not budget.repeat():
            raise budget.tag(GypsumIntegrityError(f"{problem} (after {budget.sent} attempts, from {url})"))


# ---------------------------------------------------------------------------------------------------
# Large files: streamed to disk, hashed alongside.


class _Hasher:
    """The MD5 of a download as it arrives, on a thread of its own for a large one; or nothing, if not ``hashed``.

    Buffers circulate: the receiver takes a free one (:meth:`take`), fills it,
    hands it over (:meth:`add`) and writes it meanwhile; the hashing thread
    gives it back once hashed. Hashing starts as soon as bytes arrive, and
    never waits for a write: both only read the buffer, and the receiver takes
    the next one only after its write. At most :data:`_BUFFERS` buffers exist,
    so memory stays bounded however fast the bytes arrive.
    """

    def __init__(self, hashed: bool, threaded: bool, buffer_size: int) -> None:
        self._hashed, self._threaded = hashed, hashed and threaded
        self._free: queue.SimpleQueue[memoryview] = queue.SimpleQueue()
        for _ in range(_BUFFERS if self._threaded else 1):
            self._free.put(memoryview(bytearray(buffer_size)))
        self._full: queue.SimpleQueue[tuple[memoryview, int] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._md5 = hashlib.md5()

    def _run(self) -> None:
        while (item := self._full.get()) is not None:
            self._md5.update(item[0][: item[1]])
            self._free.put(item[0])

    def take(self) -> memoryview:
        """A free buffer (waiting for the hashing thread to give one back)."""
        if self._threaded and self._thread is None:
            self._thread = threading.Thread(target=self._run, name="gypsum-md5", daemon=True)
            self._thread.start()
        return self._free.get()

    def give_back(self, buffer: memoryview) -> None:
        """Return a buffer taken but not filled."""
        self._free.put(buffer)

    def add(self, buffer: memoryview, count: int) -> None:
        """Hash the first ``count`` bytes of ``buffer`` (on the hashing thread, which then gives it back)."""
        if self._thread is not None:
            self._full.put((buffer, count))
            return
        if self._hashed:
            self._md5.update(buffer[:count])
        self._free.put(buffer)

    def hexdigest(self) -> str | None:
        """The MD5 of everything added (``None`` if not hashed)."""
        self.close()
        return self._md5.hexdigest() if self._hashed else None

    def reset(self) -> None:
        """Forget everything added."""
        self.close()
        self._md5 = hashlib.md5()

    def close(self) -> None:
        """Stop the hashing thread, once it has hashed everything added."""
        if self._thread is not None:
            self._full.put(None)
            self._thread.join()
            self._thread = None


class _BrokeOff(Exception):
    """A body that broke off while it arrived; the download may resume where it stopped."""

    def __init__(self, error: GypsumTransientError) -> None:
        super().__init__(str(error))
        self.error = error


class _Partial:
    """What has arrived of one download: the file it is written to, its size, its MD5, the progress reported."""

    def __init__(self, out: cache.Staged, hasher: _Hasher, on_bytes: ByteCallback | None) -> None:
        self.out, self.hasher, self.on_bytes, self.size = out, hasher, on_bytes, 0

    def receive(self, reply: _http.Reply, cap: int | None, key: str) -> None:
        """Write and hash the body of ``reply``; refuse it on reaching ``cap`` bytes in all."""
        while True:
            buffer = self.hasher.take()
            room = len(buffer) if cap is None else min(len(buffer), cap - self.size)
            try:
                count = reply.readinto(buffer[:room])
            except GypsumTransientError as exc:
                self.hasher.give_back(buffer)
                raise _BrokeOff(exc) from None
            if not count:
                self.hasher.give_back(buffer)
                return
            self.hasher.add(buffer, count)  # hashed while it is written
            cache.write_all(self.out.fd, buffer[:count])
            self.size += count
            if self.on_bytes:
                self.on_bytes(count)
            if self.size == cap:
                raise _oversized(key, reply.url, None, cap - 1)

    def forget(self) -> None:
        """Roll back the progress reported for what arrived."""
        if self.on_bytes and self.size:
            self.on_bytes(-self.size)
        self.size = 0

    def restart(self) -> None:
        """Forget what arrived, to receive the file again from its first byte."""
        self.forget()
        self.hasher.reset()
        self.out.restart()


def _fetch_into(url: str, partial: _Partial, expected: int | None, key: str, budget: _http.Budget) -> None:
    """Stream ``url`` into ``partial``, resuming after ``partial.size`` bytes when the server honours ``Range``.

    Never reads more than ``expected + 1`` bytes in all; a body declared or found longer is refused.
    """
    resume = 0 < partial.size < (expected if expected is not None else 0)
    if partial.size and not resume:
        partial.restart()
    headers = {"Range": f"bytes={partial.size}-"} if resume else None
    with _http.stream(url, headers=headers, budget=budget) as reply:
        if resume and reply.status != 206:
            partial.restart()  # the server sent the whole object again
        cap = None if expected is None else expected + 1
        if cap is not None and reply.length is not None and partial.size + reply.length >= cap:
            raise _oversized(key, url, partial.size + reply.length, cap - 1)
        partial.receive(reply, cap, key)


def _download_streamed(
    url: str, destination: str, key: str, size: int | None, md5: str | None, on_bytes: ByteCallback | None
) -> None:
    budget, wrong = _http.Budget(), 0
    threaded = size is None or size >= _THREADED_MD5_SIZE
    hasher = _Hasher(md5 is not None, threaded, _CHUNK if size is None else min(_CHUNK, size + 1))
    with cache.staged(destination) as out, contextlib.closing(hasher):
        partial = _Partial(out, hasher, on_bytes)
        while True:
            try:
                _fetch_into(url, partial, size, key, budget)
            except _BrokeOff as broken:
                if budget.repeat():
                    continue  # the next attempt resumes where this one broke off
                partial.forget()
                raise budget.tag(broken.error) from None
            except BaseException:
                partial.forget()
                raise
            problem = cache.mismatch(key, (partial.size, hasher.hexdigest()), size, md5)
            if not problem:
                out.commit()
                return
            wrong += 1
            if wrong >= DOWNLOAD_ATTEMPTS or not budget.repeat():
                raise budget.tag(GypsumIntegrityError(f"{problem} (after {budget.sent} attempts, from {url})"))
            partial.restart()


def download(
    url: str,
    destination: str,
    *,
    key: str,
    size: int | None = None,
    md5: str | None = None,
    on_bytes: ByteCallback | None = None,
    verify: BodyCheck | None = None,
    fetched: bytes | None = None,
) -> None:
    """Download ``url`` to ``destination`` atomically, verified against ``size`` and ``md5``.

    ``fetched``: the body of one GET of ``url`` already sent (by :func:`_http.request_many`, with
    :func:`body_limit` as its limit), kept if intact. The caller holds :func:`cache.file_lock` (or the
    version lock) and has made the folder. Objects
    of at most :data:`SMALL_FILE_SIZE` bytes, and internal files checked by
    ``verify(body)`` (which returns what is wrong, or ``None``, or raises to
    refuse the body), arrive in one response read whole (internal files up to
    :data:`MAX_DOCUMENT_SIZE` bytes); others (large files, or of unknown size
    like the metadata database) stream to disk. A transfer that broke off
    resumes with a ``Range`` request; one that arrived corrupted is fetched
    again, up to :data:`DOWNLOAD_ATTEMPTS` deliveries. A body longer than
    ``size`` is refused at once.

    Raises:
        GypsumIntegrityError: The file kept arriving with the wrong size or MD5.
        GypsumUnsafeResponseError: The body is longer than ``size`` or refused by ``verify``.
        GypsumTransientError: The transfer kept failing.

    Example:
        >>> download(url + "/file/P%2FA%2FV%2Fx", "/c/bucket/P/A/V/x", key="P/A/V/x", size=3)  # doctest: +SKIP
    """
    if fetched is not None:
        if _keep_body(destination, fetched, key, size, md5, on_bytes, verify):
            _download_whole(url, destination, key, size, md5, on_bytes, verify, again(), wrong=1)
    elif verify is not None or (size is not None and size <= SMALL_FILE_SIZE):
        _download_whole(url, destination, key, size, md5, on_bytes, verify)
    else:
        _download_streamed(url, destination, key, size, md5, on_bytes)


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

    ``file_locked=False`` skips the file lock when the caller holds the :func:`cache.version_lock` of
    ``destination``'s version: every writer of a version's files (ours, gypsum_client's
    ``save_file`` and ``save_version``) takes that lock or writes atomically, so a per-file
    lock (several file-system calls per file) would add nothing but time. ``checked``: the
    caller made the folder and found no file at ``destination`` (see :func:`cache.prepare_folders`).

    Example:
        >>> save_object(url + "/file/P%2FA%2FV%2Fx", "/c/bucket/P/A/V/x", key="P/A/V/x")  # doctest: +SKIP
    """
    if not checked:
        if not overwrite and os.path.exists(destination):
            return destination
        cache.make_parent(destination)
    if not file_locked:
        download(url, destination, key=key, size=size, md5=md5, on_bytes=on_bytes, verify=verify)
        return destination
    with cache.file_lock(destination):
        # Another process may have finished it while we waited for the lock.
        if overwrite or not os.path.exists(destination):
            download(url, destination, key=key, size=size, md5=md5, on_bytes=on_bytes, verify=verify)
    return destination
