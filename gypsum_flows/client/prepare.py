"""``prepare_directory_upload``: list a folder for upload, turning symlinks into the cache into upload links.

A folder made by :func:`clone_version` holds symlinks to
``{cache}/bucket/P/A/V/path``; each becomes a link to ``P/A/V/path`` on the
server, so unchanged files are never uploaded again (even when the symlink
dangles because the clone was made with ``download=False``).

Nothing in the folder is trusted. A symlink to a folder is treated like a
symlink to each file under it (links into the cache, or followed, or refused,
as ``links`` says; the choice is logged), a symlink loop or a folder symlink
leading back to a folder that holds it is refused, and so is anything that is
not a regular file or a folder (a FIFO, a socket, a device, a dangling
symlink), all before any upload starts and each named with what it is.

Example:
    >>> prepare_directory_upload("/tmp/clone", cache_dir=cache)  # doctest: +SKIP
    {'files': ['new.txt'], 'links': [{'from.path': 'blah.txt', 'to.project': 'test-R', ...}]}
"""

from __future__ import annotations

import errno
import logging
import os
import stat
from dataclasses import dataclass, field

from ..cache import resolve_cache
from ..constants import BUCKET_CACHE_NAME, LOCK_SUFFIX
from ._localfile import kind_of
from ._util import sanitize_path

LINK_MODES = ("auto", "always", "never")
#: Problems named in one error before the rest are only counted.
_SHOWN_PROBLEMS = 20
log = logging.getLogger(__name__)


def _cache_link(target: str, cache_dir: str) -> dict | None:
    """The upload link for a symlink target inside ``{cache}/bucket/P/A/V/``, or ``None``."""
    for resolve in (os.path.abspath, os.path.realpath):
        prefix = sanitize_path(resolve(cache_dir)).rstrip("/") + "/"
        dest = sanitize_path(resolve(target))
        if not dest.startswith(prefix):
            continue
        parts = dest[len(prefix) :].split("/")
        if len(parts) > 4 and parts[0] == BUCKET_CACHE_NAME:
            return {
                "to.project": parts[1],
                "to.asset": parts[2],
                "to.version": parts[3],
                "to.path": "/".join(parts[4:]),
            }
    return None


def _in_cache(target: str, cache_dir: str) -> bool:
    """Whether ``target`` lies under ``{cache}/bucket/`` (lexically or once resolved)."""
    return any(
        sanitize_path(resolve(target)).startswith(
            sanitize_path(resolve(cache_dir)).rstrip("/") + f"/{BUCKET_CACHE_NAME}/"
        )
        for resolve in (os.path.abspath, os.path.realpath)
    )


def _cache_own(path: str, target: str) -> bool:
    """Whether a file in the cache's copy of a version is the cache's own (``..manifest``, a file's lock).

    Folder symlinks into the cache reach these besides the version's files.
    """
    if path.startswith("..") or "/.." in path:
        return True
    return path.endswith(LOCK_SUFFIX) and os.path.lexists(target[: -len(LOCK_SUFFIX)])


@dataclass
class _Listing:
    """What a walk found: files to send, links to make, and what cannot be uploaded."""

    links_mode: str
    cache_dir: str
    files: list[str] = field(default_factory=list)
    links: list[dict] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def file_or_link(self, rel: str, target: str | None) -> None:
        """A regular file at ``rel``, reached through symlinks that lead to ``target`` (``None``: none)."""
        if target is None:
            self.files.append(rel)
            return
        link = None if self.links_mode == "never" else _cache_link(target, self.cache_dir)
        if link is not None and _cache_own(link["to.path"], target):
            log.debug("skipping '%s': the cache's own file '%s'", rel, target)
        elif link is not None:
            self.links.append({"from.path": rel, **link})
        elif self.links_mode == "always":
            self.problems.append(
                f"'{rel}' is a symlink to '{target}', which is not in the cache, so it cannot "
                "become an upload link (links='always')"
            )
        else:
            self.files.append(rel)


def _target(full: str) -> str:
    """The absolute target of the symlink at ``full`` (relative targets start from its folder)."""
    return os.path.join(os.path.dirname(full), os.readlink(full))


def _walk(listing: _Listing, folder: str, prefix: str, via: str | None, ancestors: frozenset) -> None:
    """Add everything under ``folder`` (shown as ``prefix``) to ``listing``.

    ``via`` is the path the folder's files are reached through when a folder
    symlink led here; ``ancestors`` holds ``(st_dev, st_ino)`` of the folders
    on the way, so a folder symlink back to one of them is refused.
    """
    with os.scandir(folder) as entries:
        found = sorted(entries, key=lambda e: e.name)
    for entry in found:
        rel = prefix + entry.name
        through = os.path.join(via, entry.name) if via is not None else None
        if entry.is_symlink():
            _symlink(listing, entry.path, rel, ancestors)
        elif entry.is_dir(follow_symlinks=False):
            info = entry.stat(follow_symlinks=False)
            _walk(listing, entry.path, rel + "/", through, ancestors | {(info.st_dev, info.st_ino)})
        elif entry.is_file(follow_symlinks=False):
            listing.file_or_link(rel, through)
        else:
            listing.problems.append(f"'{rel}' is {kind_of(entry.stat(follow_symlinks=False).st_mode)}")


def _symlink(listing: _Listing, full: str, rel: str, ancestors: frozenset) -> None:
    """Add what the symlink at ``full`` stands for: a file, a link, a whole folder, or a problem."""
    target = _target(full)
    try:
        info = os.stat(full)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            listing.problems.append(f"'{rel}' is a symlink loop ('{rel}' -> '{os.readlink(full)}')")
        elif listing.links_mode != "never" and _cache_link(target, listing.cache_dir) is not None:
            listing.file_or_link(rel, target)  # a clone made without downloading: the link is all we need
        else:
            listing.problems.append(f"'{rel}' is a dangling symlink (-> '{target}')")
        return
    if stat.S_ISREG(info.st_mode):
        listing.file_or_link(rel, target)
    elif not stat.S_ISDIR(info.st_mode):
        listing.problems.append(f"'{rel}' is a symlink to {kind_of(info.st_mode)} ('{target}')")
    elif (info.st_dev, info.st_ino) in ancestors:
        listing.problems.append(f"'{rel}' is a symlink to '{target}', a folder that contains it (a symlink cycle)")
    elif listing.links_mode == "always" and not _in_cache(target, listing.cache_dir):
        listing.problems.append(
            f"'{rel}' is a symlink to the folder '{target}', which is not in the cache, so "
            "its files cannot become upload links (links='always')"
        )
    else:
        as_links = listing.links_mode != "never" and _in_cache(target, listing.cache_dir)
        log.info(
            "folder symlink '%s' -> '%s': %s",
            rel,
            target,
            "its files in the cache become upload links" if as_links else "followed, its files are uploaded",
        )
        _walk(listing, full, rel + "/", target, ancestors | {(info.st_dev, info.st_ino)})


def prepare_directory_upload(directory: str, links: str = "auto", cache_dir: str | None = None) -> dict:
    """List ``directory`` for :func:`start_upload`: regular ``files`` and upload ``links``.

    Symlinks to folders count as symlinks to each file under them.

    Args:
        directory: Folder whose contents make the new version.
        links: ``"auto"``: symlinks into the cache become links, other symlinks are followed and
            uploaded as files; ``"always"``: a symlink that is not into the cache is an error;
            ``"never"``: every symlink is followed and uploaded as a file.
        cache_dir: Cache folder the symlinks point into; default :func:`cache_directory`.

    Returns:
        ``{"files": [relative paths], "links": [{"from.path", "to.project", "to.asset", "to.version",
        "to.path"}]}``.

    Raises:
        ValueError: Unknown ``links`` mode, or entries that cannot be uploaded, each named with why:
            not a regular file or folder (FIFO, socket, device), a dangling symlink to upload as a file,
            a symlink loop or cycle, or (``"always"``) a symlink that is not into the cache.

    Example:
        >>> prepare_directory_upload("/tmp/clone", links="always", cache_dir=cache)  # doctest: +SKIP
    """
    if links not in LINK_MODES:
        raise ValueError(f"invalid value for 'links': {links!r}; must be one of {list(LINK_MODES)}")
    listing = _Listing(links, resolve_cache(cache_dir))
    top = os.stat(directory)
    if not stat.S_ISDIR(top.st_mode):
        raise NotADirectoryError(errno.ENOTDIR, f"cannot upload '{directory}': not a folder")
    _walk(listing, directory, "", None, frozenset({(top.st_dev, top.st_ino)}))
    if listing.problems:
        shown = listing.problems[:_SHOWN_PROBLEMS]
        more = len(listing.problems) - len(shown)
        raise ValueError(
            f"cannot upload the folder '{directory}': " + "; ".join(shown) + (f"; and {more} more" if more else "")
        )
    return {"files": sorted(listing.files), "links": sorted(listing.links, key=lambda link: link["from.path"])}
