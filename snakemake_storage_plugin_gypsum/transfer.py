"""Moving files between the gypsum cache, Snakemake's local storage folder and the server.

Retrieved files are hard links to the verified file in the shared gypsum
cache (a copy across file systems), never symbolic links; the shared file is
made read-only so that a rule cannot change the cache through its input.
An output folder is published as one new version in one upload session,
aborted on any failure, so a failed publication leaves no version and no lock.

Example:
    >>> import tempfile
    >>> cached = Path(tempfile.mkdtemp()) / "blah.txt"
    >>> _ = cached.write_text("hello")
    >>> local = Path(tempfile.mkdtemp()) / "storage" / "test-R" / "basic" / "v1" / "blah.txt"
    >>> place_file(str(cached), local)
    >>> local.read_text(), local.stat().st_nlink, local.stat().st_mode & 0o222  # one file, now read-only
    ('hello', 2, 0)
"""

from __future__ import annotations

import logging
import os
import shutil
import stat
import uuid
from pathlib import Path
from typing import Any

from gypsum_flows import client
from gypsum_flows.errors import GypsumError
from gypsum_flows.names import bad_path_reason, is_safe_key

from .query import GypsumQuery

#: The file Snakemake writes into directory outputs to track their mtime; not part of a version.
TIMESTAMP_FILE = ".snakemake_timestamp"


def _temporary(destination: Path) -> Path:
    return destination.with_name(f".{destination.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")


def place_file(source: str, destination: Path) -> None:
    """Put ``source`` (a cached file) at ``destination`` as a hard link, else a copy; atomic."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    mode = os.stat(source).st_mode
    tmp = _temporary(destination)
    try:
        try:
            os.link(source, tmp)
            os.chmod(tmp, stat.S_IMODE(mode) & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
        except OSError:  # another file system, or no hard links there
            shutil.copyfile(source, tmp)
        os.replace(tmp, destination)
    finally:
        tmp.unlink(missing_ok=True)


def checked_path(path: str, query: GypsumQuery) -> str:
    """A manifest path that is safe to join to a local folder (the server is not trusted)."""
    reason = bad_path_reason(path) or (None if is_safe_key(path) else "it leaves the version's folder")
    if reason:
        raise GypsumError(f"the manifest of {query} lists the unsafe path {path!r}: {reason}")
    return path


def place_version(files: dict[str, dict], cached: str, destination: Path, query: GypsumQuery) -> None:
    """Fill ``destination`` with every file of a saved version (folder ``cached``); replaces what was there."""
    tmp = _temporary(destination)
    try:
        for path in files:
            place_file(os.path.join(cached, *checked_path(path, query).split("/")), tmp.joinpath(*path.split("/")))
        tmp.mkdir(parents=True, exist_ok=True)  # an empty version is an empty folder
        if destination.exists():
            shutil.rmtree(destination)
        os.replace(tmp, destination)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def folder_listing(folder: Path, cache_dir: str | None) -> dict:
    """``{"files", "links"}`` of an output folder for :func:`client.start_upload`, without Snakemake's own file."""
    listing = client.prepare_directory_upload(str(folder), links="auto", cache_dir=cache_dir)
    listing["files"] = [path for path in listing["files"] if path != TIMESTAMP_FILE]
    return listing


def publish(
    query: GypsumQuery,
    folder: Path,
    listing: dict,
    *,
    url: str | None,
    token: str,
    probation: bool,
    deduplicate: bool,
    concurrent: int | None,
    logger: logging.Logger,
) -> None:
    """Publish ``listing`` (paths relative to ``folder``) as the new version of ``query``; abort on failure."""
    init = client.start_upload(
        query.project,
        query.asset,
        query.version,
        listing["files"],
        links=listing["links"],
        deduplicate=deduplicate,
        probation=probation,
        url=url,
        token=token,
        directory=str(folder),
    )
    try:
        more: dict[str, Any] = {} if concurrent is None else {"concurrent": concurrent}
        client.upload_files(init, directory=str(folder), url=url, **more)
        client.complete_upload(init, url=url)
    except BaseException:
        try:
            client.abort_upload(init, url=url)
        except GypsumError as exc:
            logger.warning(f"gypsum: could not abort the failed upload of {query}: {exc}")
        raise
