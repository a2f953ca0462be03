"""Uploads: ``start_upload``, ``upload_files``, ``complete_upload``, ``abort_upload``, ``upload_directory``.

Files are hashed in one streaming pass. Files over 1 MiB stream from disk on
threads of their own (never held in memory); smaller ones are read whole (at
most one streaming block each) and sent from one thread with several requests
in flight on kept-alive connections. Signing a file URL, the PUT, completion
and abort are retried on transient failures; a completion or abort that
already took effect counts as success. Starting an upload is repeated only
when the server cannot have acted on it. ``upload_directory`` aborts (on the
same server) after any failure and the error names the file that failed.

Example:
    >>> upload_directory("/tmp/v1", "test-R", "basic", "v1", url=server.url, token=token)  # doctest: +SKIP
    True
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from typing import Any

from .. import _http, next_steps
from ..auth import resolve_token
from ..constants import MAX_FILE_SIZE, SMALL_FILE_SIZE
from ..errors import (
    GypsumError,
    GypsumFileChangedError,
    GypsumHTTPError,
    GypsumInvalidRequestError,
    GypsumPermissionError,
    GypsumTransientError,
    is_transient,
)
from ..md5cache import file_md5
from ..names import check_name
from ..progress import ProgressOption, Reporter
from ._localfile import StreamedFile, read_whole, stat_regular
from ._util import DEFAULT_CONCURRENCY, names_path, paired, run_parallel, sanitize_path
from .fetch import again, read_json
from .prepare import prepare_directory_upload
from .read import fetch_summary

#: Small files are signed, then sent, this many at a time, so no signed URL waits long to be used.
_SIGNING_BATCH = 256
#: Key of an upload's ``init`` listing the files whose PUT the server confirmed in this session: a later
#: ``upload_files`` of the same session signs and sends only the others (gypsum's protocol hands out one
#: presigned URL per file and request, so a file not confirmed is simply signed again).
CONFIRMED = "confirmed_paths"
#: Rounds of ``upload_files`` within one session that ``upload_directory`` tries after transient failures,
#: each after a round that confirmed files (see docs/client.md, "The retry budget").
UPLOAD_ROUNDS = 3
log = logging.getLogger(__name__)


def md5_file(path: str) -> tuple[int, str]:
    """Size and MD5 hex digest of a file, remembered while its size, mtime, ctime and inode stay the same.

    Example:
        >>> import hashlib
        >>> md5_file(__file__)[1] == hashlib.md5(open(__file__, "rb").read()).hexdigest()
        True
    """
    stat_regular(path, path)  # a FIFO or device is refused before anything opens it
    return file_md5(path)


def _describe_files(files: Any, directory: str | None, deduplicate: bool) -> list[dict]:
    """``files`` (a path, paths relative to ``directory``, or dicts) as ``{path, size, md5sum, dedup}``."""
    if isinstance(files, str):
        files = [files]
    kinds = {type(f) for f in files}
    if len(kinds) > 1:
        raise ValueError("all elements of 'files' must be strings or dicts, not a mix")
    out = []
    for item in files:
        if isinstance(item, dict):
            out.append({**item, "dedup": item.get("dedup", deduplicate)})
            continue
        size, md5 = md5_file(os.path.join(directory, item) if directory is not None else item)
        out.append({"path": item, "size": size, "md5sum": md5, "dedup": deduplicate})
    return out


def _request_files(described: list[dict], links: list[dict] | None) -> list[dict]:
    """The ``files`` array of ``/upload/start``: ``dedup`` or ``simple`` entries, then ``link`` entries."""
    out: list[dict] = [
        {
            "type": "dedup" if f["dedup"] else "simple",
            "path": sanitize_path(f["path"]),
            "size": f["size"],
            "md5sum": f["md5sum"],
        }
        for f in described
    ]
    for link in links or []:
        target = {k: link[f"to.{k}"] for k in ("project", "asset", "version")}
        target["path"] = sanitize_path(link["to.path"])
        out.append({"type": "link", "path": sanitize_path(link["from.path"]), "link": target})
    return out


def _check_sizes(files: Any, directory: str | None) -> None:
    """Refuse, before anything is hashed or sent, a file larger than gypsum's single-PUT limit."""
    for item in [files] if isinstance(files, str) else files:
        if isinstance(item, dict):
            path, size = item.get("path"), item.get("size")
        else:
            path = item
            size = os.path.getsize(os.path.join(directory, item) if directory is not None else item)
        if isinstance(size, int) and size > MAX_FILE_SIZE:
            raise GypsumInvalidRequestError(
                f"'{path}' is {size:,} bytes, over gypsum's limit of {MAX_FILE_SIZE:,} bytes (4.995 GiB) per file: "
                "split it into smaller files; nothing was sent and the project is not locked"
            )


def start_upload(
    project: str,
    asset: str,
    version: str,
    files: str | list[str] | list[dict],
    links: list[dict] | None = None,
    deduplicate: bool = True,
    probation: bool = False,
    url: str | None = None,
    token: str | None = None,
    directory: str | None = None,
) -> dict:
    """Start uploading a new version; the project is locked until completion or abort.

    Args:
        project: Project name.
        asset: Asset name.
        version: Version name (must not exist yet).
        files: A path, paths relative to ``directory``, or dicts ``{"path", "size", "md5sum", "dedup"?}``.
        links: Dicts ``{"from.path", "to.project", "to.asset", "to.version", "to.path"}``.
        deduplicate: Ask the server to turn files equal to one in the latest version into links.
        probation: Upload on probation (forced for untrusted uploaders).
        url: gypsum REST URL; default :func:`rest_url`.
        token: GitHub token; default :func:`access_token`.
        directory: Folder the ``files`` paths are relative to.

    Returns:
        ``{"file_urls", "complete_url", "abort_url", "session_token"}``.

    Raises:
        GypsumInvalidRequestError: Bad names or files, an existing version, a broken link.
        GypsumQuotaExceededError: Not enough quota left.
        GypsumLockedError: Another operation holds the project.

    Example:
        >>> init = start_upload("test-R", "basic", "v9", ["blah.txt"], directory=d,
        ...                     url=server.url, token=token)  # doctest: +SKIP
    """
    for name, kind in ((project, "project"), (asset, "asset"), (version, "version")):
        check_name(name, kind)
    url = _http.resolve_url(url)
    _http.refuse_if_offline("start an upload", url)
    if not next_steps.is_local(url):
        _check_sizes(files, directory)
    body = {
        "files": _request_files(_describe_files(files, directory, deduplicate), links),
        "on_probation": probation,
    }
    try:
        response = _http.request(
            "POST",
            f"{url}/upload/start/{names_path(project, asset, version)}",
            policy=_http.GUARDED,
            token=resolve_token(token),
            json=body,
        )
    except GypsumTransientError as exc:
        if exc.status is not None:
            raise
        # The request may have reached the server, whose answer (with the session token) was lost.
        lost = GypsumTransientError(
            f"{exc.reason}; the server may have started this upload and locked project '{project}' "
            "(an administrator can clear it with unlock_project)",
            method=exc.method,
            url=exc.url,
        )
        lost.attempts = exc.attempts
        raise lost from None
    return response.json()


def _about_file(exc: Exception, path: str) -> Exception:
    """``exc`` with the message naming the file whose transfer failed."""
    if isinstance(exc, GypsumHTTPError):
        named = type(exc)(
            f"failed to upload '{path}': {exc.reason}",
            status=exc.status,
            method=exc.method,
            url=exc.url.split("?")[0] if exc.url else None,
        )
        named.attempts = exc.attempts
        return named
    if isinstance(exc, (OSError, ValueError, GypsumFileChangedError)):  # these name the file already
        return exc
    return GypsumError(f"failed to upload '{path}': {exc}")


def _about_item(exc: Exception, item: dict) -> Exception:
    """:func:`_about_file` for the file of an upload item."""
    return _about_file(exc, item["path"])


def _local(directory: str | None, path: str) -> str:
    return os.path.join(directory, path) if directory is not None else path


def _upload_one(
    item: dict,
    expected: os.stat_result,
    directory: str | None,
    url: str,
    session_token: str,
    report: Reporter,
    confirmed: list[str],
) -> None:
    """Sign one file's URL, then PUT its bytes streamed from disk with ``Content-MD5``.

    The file must keep the size and time it had when the upload began (see :mod:`._localfile`).
    """
    path = item["path"]
    try:
        signed = read_json(_http.join_url(url, item["url"]), method="POST", token=session_token, check_body=True)
        with StreamedFile(_local(directory, path), path, expected, lambda n: report.add_bytes(n, path)) as handle:
            headers = {"Content-MD5": signed["md5sum_base64"], "Content-Length": str(expected.st_size)}
            _http.request("PUT", _http.join_url(url, signed["url"]), data=handle, headers=headers)
            handle.check_unchanged()
    except Exception as exc:
        raise _about_file(exc, path) from exc
    report.file_done(path)
    confirmed.append(path)


def upload_files(
    init: dict,
    directory: str | None = None,
    url: str | None = None,
    concurrent: int = DEFAULT_CONCURRENCY,
    progress: ProgressOption = None,
) -> None:
    """Upload the files of a started upload, ``concurrent`` at a time.

    Files this session already delivered (listed under :data:`CONFIRMED` in
    ``init``, which this call keeps up to date) are skipped, so calling it
    again after a transient failure sends only the rest.

    Small files (up to 1 MiB) are signed and sent from one thread with
    ``concurrent`` requests in flight on kept-alive connections; larger ones
    stream from disk on up to ``concurrent`` threads alongside.

    Args:
        init: The result of :func:`start_upload`.
        directory: Folder the file paths are relative to.
        url: gypsum REST URL; default :func:`rest_url`.
        concurrent: Transfers at once.
        progress: ``True`` for a progress bar in a terminal, or a callback.

    Raises:
        ValueError: A file URL uses another method than ``presigned``, or a path is not a regular file.
        GypsumFileChangedError: A file changed while it was sent (not worth retrying).
        GypsumHTTPError: A file failed (the message names it).

    Example:
        >>> upload_files(init, directory=d, url=server.url)  # doctest: +SKIP
    """
    url = _http.resolve_url(url)
    confirmed: list[str] = init.setdefault(CONFIRMED, [])
    done = set(confirmed)
    items = [i for i in init["file_urls"] if i["path"] not in done]
    for item in items:
        if item.get("method") != "presigned":
            raise ValueError(f"unknown upload method {item.get('method')!r} for file '{item['path']}'")
    # Each file is sent with this size and must still have it (and this time) when read.
    stats = {i["path"]: stat_regular(_local(directory, i["path"]), i["path"]) for i in items}
    small = [i for i in items if stats[i["path"]].st_size <= SMALL_FILE_SIZE]
    jobs: list[list[dict] | dict] = [i for i in items if stats[i["path"]].st_size > SMALL_FILE_SIZE]
    if small:
        jobs.insert(0, small)
    token = init["session_token"]
    total = sum(s.st_size for s in stats.values())
    with Reporter("upload", files_total=len(items), bytes_total=total, progress=progress) as report:
        run_parallel(
            jobs,
            lambda job: (
                _upload_small(job, stats, directory, url, token, report, concurrent, confirmed)
                if isinstance(job, list)
                else _upload_one(job, stats[job["path"]], directory, url, token, report, confirmed)
            ),
            concurrent,
        )


def _upload_small(
    items: list[dict],
    stats: dict[str, os.stat_result],
    directory: str | None,
    url: str,
    session_token: str,
    report: Reporter,
    depth: int,
    confirmed: list[str],
) -> None:
    """Upload small files from this one thread, ``depth`` requests in flight: sign a batch, then PUT it.

    Batches keep every signed URL fresh however long the whole upload takes.
    """
    for start in range(0, len(items), _SIGNING_BATCH):
        batch = items[start : start + _SIGNING_BATCH]
        signing: Iterator[_http.Request] = (("POST", _http.join_url(url, i["url"]), {}, None) for i in batch)
        signs = _http.request_many(signing, depth=depth, token=session_token)
        signed = [_signed(item, reply, url, session_token) for item, reply in paired(batch, signs, _about_item)]
        puts = _http.request_many(
            (
                (
                    "PUT",
                    _http.join_url(url, s["url"]),
                    {"Content-MD5": s["md5sum_base64"]},
                    read_whole(_local(directory, i["path"]), i["path"], stats[i["path"]]),
                )
                for i, s in zip(batch, signed, strict=True)
            ),
            depth=depth,
        )
        for item, _ in paired(batch, puts, _about_item):
            report.add_bytes(stats[item["path"]].st_size, item["path"])
            report.file_done(item["path"])
            confirmed.append(item["path"])


def _signed(item: dict, reply: _http.Reply, url: str, session_token: str) -> dict:
    """The presigned URL of a signing reply; a garbled reply is signed again (within the request's budget)."""
    try:
        return reply.json()
    except GypsumTransientError:
        try:
            target = _http.join_url(url, item["url"])
            return read_json(target, method="POST", token=session_token, check_body=True, budget=again(), wrong=1)
        except Exception as exc:
            raise _about_file(exc, item["path"]) from exc


def _version_of(init: dict, key: str) -> tuple[str, str, str]:
    """(project, asset, version) from the end of the complete or abort URL."""
    project, asset, version = init[key].rstrip("/").split("/")[-3:]
    return project, asset, version


def _finished(init: dict, url: str) -> bool | None:
    """Whether the upload's version is complete on the server (``None``: it does not exist)."""
    project, asset, version = _version_of(init, "complete_url")
    try:
        return "upload_finish" in fetch_summary(project, asset, version, cache_dir=False, url=url)
    except FileNotFoundError:
        return None


def _end_session(init: dict, key: str, url: str | None, took_effect: Callable[[bool | None], bool]) -> None:
    """POST the session's complete or abort URL (retried); a lock error after it took effect is success."""
    url = _http.resolve_url(url)
    try:
        _http.request("POST", _http.join_url(url, init[key]), token=init["session_token"])
    except GypsumPermissionError:
        # A retry after an attempt whose answer was lost finds the lock gone.
        if not took_effect(_finished(init, url)):
            raise


def complete_upload(init: dict, url: str | None = None) -> None:
    """Finish an upload: the version becomes visible (and latest unless probational); unlocks the project.

    Retried on transient failures; if a retry finds the lock already
    released because an earlier attempt succeeded, that is success.

    Example:
        >>> complete_upload(init, url=server.url)  # doctest: +SKIP
    """
    _end_session(init, "complete_url", url, took_effect=lambda finished: finished is True)


def abort_upload(init: dict, url: str | None = None) -> None:
    """Abandon an upload: everything written for the version is removed and the project unlocked.

    Example:
        >>> abort_upload(init, url=server.url)  # doctest: +SKIP
    """
    # An abort that took effect leaves neither the version nor the lock.
    _end_session(init, "abort_url", url, took_effect=lambda finished: finished is None)


def upload_directory(
    directory: str,
    project: str,
    asset: str,
    version: str,
    cache_dir: str | None = None,
    deduplicate: bool = True,
    probation: bool = False,
    url: str | None = None,
    token: str | None = None,
    concurrent: int = DEFAULT_CONCURRENCY,
    abort_failed: bool = True,
    progress: ProgressOption = None,
) -> bool:
    """Upload a folder as a new version; symlinks into the cache become links (see :func:`clone_version`).

    Args:
        directory: Folder to upload.
        project: Project name.
        asset: Asset name.
        version: Version name.
        cache_dir: Cache folder for link detection; default :func:`cache_directory`.
        deduplicate: Let the server link files equal to ones in the latest version.
        probation: Upload on probation.
        url: gypsum REST URL; default :func:`rest_url`.
        token: GitHub token; default :func:`access_token`.
        concurrent: Transfers at once (see :func:`upload_files`).
        abort_failed: Abort the upload on the same server after any failure.
        progress: ``True`` for a progress bar in a terminal, or a callback.

    Returns:
        ``True``.

    Example:
        >>> upload_directory("/tmp/v1", "test-R", "basic", "v1", url=server.url, token=token)  # doctest: +SKIP
        True
    """
    url = _http.resolve_url(url)
    _http.refuse_if_offline("upload", url)
    listing = prepare_directory_upload(directory, links="always", cache_dir=cache_dir)
    init = start_upload(
        project,
        asset,
        version,
        listing["files"],
        links=listing["links"],
        deduplicate=deduplicate,
        probation=probation,
        url=url,
        token=token,
        directory=directory,
    )
    try:
        _upload_resuming(init, directory, url, concurrent, progress)
        complete_upload(init, url=url)
    except BaseException:
        if abort_failed:
            _abort_quietly(init, url)
        raise
    return True


def _upload_resuming(init: dict, directory: str, url: str, concurrent: int, progress: ProgressOption) -> None:
    """``upload_files``, run again within the same session after a transient failure (only unconfirmed files).

    Only after a round that got files through: a server that took none in a whole round is failing, not flaky.
    """
    for attempt in range(1, UPLOAD_ROUNDS + 1):
        before = len(set(init.get(CONFIRMED, [])))
        try:
            upload_files(init, directory=directory, url=url, concurrent=concurrent, progress=progress)
            return
        except GypsumError as exc:
            if attempt == UPLOAD_ROUNDS or not is_transient(exc) or len(set(init[CONFIRMED])) == before:
                raise
            left = len(init["file_urls"]) - len(set(init[CONFIRMED]))
            log.warning("upload interrupted (%s); sending the %d files not yet confirmed again", exc, left)


def _abort_quietly(init: dict, url: str) -> None:
    """Abort after a failure without hiding the failure itself if the abort fails too."""
    try:
        abort_upload(init, url=url)
    except GypsumError as exc:
        log.warning("could not abort the failed upload at %s: %s", init["abort_url"], exc)
