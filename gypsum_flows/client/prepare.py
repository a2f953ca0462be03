"""``prepare_directory_upload``: list a folder for upload, turning symlinks into the cache into upload links.

A folder made by :func:`clone_version` holds symlinks to
``{cache}/bucket/P/A/V/path``; each becomes a link to ``P/A/V/path`` on the
server, so unchanged files are never uploaded again (even when the symlink
dangles because the clone was made with ``download=False``).

Example:
    >>> prepare_directory_upload("/tmp/clone", cache_dir=cache)  # doctest: +SKIP
    {'files': ['new.txt'], 'links': [{'from.path': 'blah.txt', 'to.project': 'test-R', ...}]}
"""

from __future__ import annotations

import os

from ..cache import resolve_cache
from ..constants import BUCKET_CACHE_NAME
from ._util import sanitize_path

LINK_MODES = ("auto", "always", "never")


def _cache_link(target: str, cache_dir: str) -> dict | None:
    """The upload link for a symlink target inside ``{cache}/bucket/P/A/V/``, or ``None``."""
    for resolve in (os.path.abspath, os.path.realpath):
        prefix = sanitize_path(resolve(cache_dir)).rstrip("/") + "/"
        dest = sanitize_path(resolve(target))
        if not dest.startswith(prefix):
            continue
        parts = dest[len(prefix) :].split("/")
        if len(parts) > 4 and parts[0] == BUCKET_CACHE_NAME:
            return {"to.project": parts[1], "to.asset": parts[2], "to.version": parts[3], "to.path": "/".join(parts[4:])}
    return None


def _walk_files(directory: str) -> list[str]:
    """Relative paths of every file (and file symlink, dangling or not) under ``directory``, sorted."""
    out = []
    for root, _, files in os.walk(directory):
        out.extend(sanitize_path(os.path.relpath(os.path.join(root, name), directory)) for name in files)
    return sorted(out)


def prepare_directory_upload(directory: str, links: str = "auto", cache_dir: str | None = None) -> dict:
    """List ``directory`` for :func:`start_upload`: regular ``files`` and upload ``links``.

    Args:
        directory: Folder whose contents make the new version.
        links: ``"auto"``: symlinks into the cache become links, other symlinks are uploaded as files;
            ``"always"``: a symlink that is not into the cache is an error; ``"never"``: every symlink
            is uploaded as a file.
        cache_dir: Cache folder the symlinks point into; default :func:`cache_directory`.

    Returns:
        ``{"files": [relative paths], "links": [{"from.path", "to.project", "to.asset", "to.version",
        "to.path"}]}``.

    Raises:
        ValueError: Unknown ``links`` mode, a dangling symlink to upload as a file, or (``"always"``)
            a symlink that is not into the cache.

    Example:
        >>> prepare_directory_upload("/tmp/clone", links="always", cache_dir=cache)  # doctest: +SKIP
    """
    if links not in LINK_MODES:
        raise ValueError(f"invalid value for 'links': {links!r}; must be one of {list(LINK_MODES)}")
    cache_dir = resolve_cache(cache_dir)
    files, out_links = [], []
    for rel in _walk_files(directory):
        full = os.path.join(directory, rel)
        if not os.path.islink(full):
            files.append(rel)
            continue
        target = os.readlink(full)
        target = target if os.path.isabs(target) else os.path.join(os.path.dirname(full), target)
        link = None if links == "never" else _cache_link(target, cache_dir)
        if link is not None:
            out_links.append({"from.path": rel, **link})
            continue
        if links == "always":
            raise ValueError(f"failed to convert symlink '{rel}' -> '{target}' into an upload link")
        if not os.path.exists(target):
            raise ValueError(f"cannot upload the dangling symlink '{rel}' -> '{target}' as a regular file")
        files.append(rel)
    return {"files": files, "links": out_links}
