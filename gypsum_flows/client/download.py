"""Downloads into the shared cache: ``save_file``, ``save_version``, ``resolve_links``, ``clone_version``.

Files are verified against the manifest's size and MD5 and written
atomically (see :mod:`.fetch`). A linked file is stored once, at
its final ``ancestor``, and hard-linked into every version that refers to it.
``save_version`` holds the version lock ``status/P/A/V.LOCK`` and writes the
``COMPLETE`` marker last, so several processes can save one version into one
cache at once; a version saved by gypsum_client or the R client is reused.

Nothing the server sends is trusted: the manifest and listing are checked
once each (:mod:`.untrusted`), every destination is checked to stay in its
version's folder (:func:`cache.version_files`) or the clone's folder, no
body is read beyond its manifest size plus one byte, and ``clone_version``
replaces only symbolic links into the cache.

Example:
    >>> path = save_version("test-R", "basic", "v3", url=server.url, cache_dir=cache)  # doctest: +SKIP
    >>> open(os.path.join(path, "foo", "bar.txt")).read()  # doctest: +SKIP
    '1 2 3 4 5\\n6 7 8 9 10\\n'
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .. import _http, cache
from ..constants import BUCKET_CACHE_NAME, MANIFEST_FILE, SMALL_FILE_SIZE
from ..errors import GypsumNameError, GypsumNotFoundError
from ..names import is_internal_path, is_safe_key, version_key
from ..progress import ProgressOption, Reporter
from . import fetch, untrusted
from ._util import DEFAULT_CONCURRENCY, file_url, load_manifest, paired, run_parallel, sanitize_path
from .fetch import BodyCheck, ByteCallback, body_limit, naming, save_object
from .read import list_files


@dataclass(frozen=True)
class _Copy:
    """A version being saved into the cache: which one, from which server, into which cache, replacing files or not."""

    project: str
    asset: str
    version: str
    cache_dir: str
    url: str
    overwrite: bool

    @property
    def pav(self) -> tuple[str, str, str]:
        """``(project, asset, version)``, as the cache's paths and the bucket's keys take them."""
        return (self.project, self.asset, self.version)


def _save_entry(
    copy: _Copy,
    path: str,
    entry: dict | None,
    on_bytes: ByteCallback | None = None,
    version_locked: bool = False,
    present: set[str] | None = None,
) -> str:
    """Put one manifest entry (or an unlisted internal file) at its place in the cache; returns it.

    A link entry is stored once, at its final target (``ancestor``), and hard-linked here; its size and
    MD5 are the target's, so the target is verified with them. ``version_locked``: the caller holds this
    version's lock, so only a file stored in another version (a link target) needs its file lock.
    ``present``: the files of this version found in the cache by :func:`cache.prepare_folders`.
    """
    destination = cache.version_file(copy.cache_dir, *copy.pav, path)
    if not copy.overwrite and (destination in present if present is not None else os.path.exists(destination)):
        return destination
    link = (entry or {}).get("link")
    target = (link.get("ancestor") or link) if link else None
    where = [target[k] for k in ("project", "asset", "version", "path")] if target else [*copy.pav, path]
    stored, key = cache.version_file(copy.cache_dir, *where), version_key(*where)
    save_object(
        file_url(copy.url, key),
        stored,
        key=key,
        overwrite=copy.overwrite,
        verify=_internal_check(path, entry, key, copy.url),
        on_bytes=on_bytes,
        size=entry["size"] if entry else None,
        md5=entry["md5sum"] if entry else None,
        file_locked=bool(link) or not version_locked,
        checked=present is not None and not link,
    )
    if link:
        cache.place_link(stored, destination)
    return destination


def save_file(
    project: str,
    asset: str,
    version: str,
    path: str,
    cache_dir: str | None = None,
    overwrite: bool = False,
    url: str | None = None,
) -> str:
    """Download one file of a version into the cache (resolving links); returns its local path.

    Args:
        project: Project name.
        asset: Asset name.
        version: Version name.
        path: Path of the file inside the version.
        cache_dir: Cache folder; default :func:`cache_directory`.
        overwrite: Download again even if cached.
        url: gypsum REST URL; default :func:`rest_url`.

    Returns:
        ``{cache}/bucket/P/A/V/path``.

    Raises:
        GypsumNameError: ``path`` is not a file path inside a version.
        GypsumNotFoundError: The version has no such file.
        GypsumIntegrityError: The file kept arriving corrupted.
        GypsumUnsafeResponseError: The server sent an unsafe manifest or a body longer than the file.

    Example:
        >>> save_file("test-R", "basic", "v2", "blah.txt", url=server.url, cache_dir=cache)  # doctest: +SKIP
    """
    cache_dir, url = cache.resolve_cache(cache_dir), _http.resolve_url(url)
    path = sanitize_path(path)
    if not is_safe_key(path) or path.endswith("/"):
        raise GypsumNameError(f"{path!r} is not the path of a file inside a version")
    destination = cache.version_file(cache_dir, project, asset, version, path)
    if not overwrite and os.path.exists(destination):
        return destination
    entry = None
    if path != MANIFEST_FILE:
        entry = load_manifest(project, asset, version, cache_dir, url).get(path)
        if entry is None and not is_internal_path(path):
            raise GypsumNotFoundError(f"'{path}' does not exist in the bucket", status=404, url=url)
    return _save_entry(_Copy(project, asset, version, cache_dir, url, overwrite), path, entry)


def _link_entries(manifest: dict) -> list[str]:
    return [path for path, entry in manifest.items() if entry.get("link")]


def _save_all(copy: _Copy, paths: list[str], manifest: dict, concurrent: int, report: Reporter) -> None:
    """Save ``paths`` of a version, reporting the manifest's bytes as they arrive; the caller holds the version lock.

    The small files stored in this version come over kept-alive connections,
    ``concurrent`` requests in flight from one thread (:func:`_http.request_many`:
    on several threads they would cost twice the CPU, handing over Python's
    GIL at every system call); large files and links are saved on up to
    ``concurrent`` threads alongside.
    """
    where = cache.version_files(copy.cache_dir, *copy.pav, paths)
    present = cache.prepare_folders(where.values())
    small, large = [], []
    for path in paths:
        entry = manifest.get(path)
        if not copy.overwrite and where[path] in present:
            report.file_done(path, entry["size"] if entry else 0)
        elif entry is None or ("link" not in entry and entry["size"] <= SMALL_FILE_SIZE):
            small.append(path)
        else:
            large.append(path)

    def save_small(batch: list[str]) -> None:
        keys = [version_key(*copy.pav, path) for path in batch]
        urls = [file_url(copy.url, key) for key in keys]
        sizes = (manifest[path]["size"] if path in manifest else None for path in batch)
        limits = {u: body_limit(size) for u, size in zip(urls, sizes, strict=True)}
        gets: Iterator[_http.Request] = (("GET", u, {}, None) for u in urls)
        replies = _http.request_many(gets, depth=concurrent, check_body=False, limits=limits)

        def about(exc: Exception, index: int) -> Exception:
            return naming(exc, keys[index], urls[index])

        for index, reply in paired(range(len(batch)), replies, about):
            path, entry = batch[index], manifest.get(batch[index])
            fetch.download(
                urls[index],
                where[path],
                fetched=reply.body,
                key=keys[index],
                size=entry["size"] if entry else None,
                md5=entry["md5sum"] if entry else None,
                verify=_internal_check(path, entry, keys[index], copy.url),
                on_bytes=_progress(report, path) if entry else None,
            )
            report.file_done(path)

    def save_one(path: str) -> None:
        arrived = [0]

        def on_bytes(count: int) -> None:
            arrived[0] += count
            report.add_bytes(count, path)

        entry = manifest.get(path)
        _save_entry(copy, path, entry, on_bytes if entry else None, version_locked=True, present=present)
        report.file_done(path, entry["size"] - arrived[0] if entry else 0)

    jobs: list[list[str] | str] = [small, *large] if small else [*large]
    run_parallel(jobs, lambda job: save_small(job) if isinstance(job, list) else save_one(job), concurrent)


def _progress(report: Reporter, path: str) -> ByteCallback:
    """Reports the bytes of ``path`` as they arrive."""
    return lambda count: report.add_bytes(count, path)


def _internal_check(path: str, entry: dict | None, key: str, url: str) -> BodyCheck | None:
    """Internal files have no MD5 in the manifest: they must be JSON that passes :func:`untrusted.check_for`."""
    return untrusted.body_check(path, key, url) if entry is None and is_internal_path(path) else None


def _relink(copy: _Copy, manifest: dict, concurrent: int, report: Reporter | None = None) -> None:
    """Place every link entry of the (checked) manifest in the cache (the caller holds the version lock)."""
    links = _link_entries(manifest)
    with report or Reporter("links", files_total=len(links), bytes_total=0, progress=None) as active:
        _save_all(copy, links, manifest, concurrent, active)


def resolve_links(
    project: str,
    asset: str,
    version: str,
    cache_dir: str | None = None,
    overwrite: bool = False,
    url: str | None = None,
    concurrent: int = DEFAULT_CONCURRENCY,
) -> bool:
    """Make every linked-from file of a cached version a hard link to its ancestor's cached file.

    Links already present in the cache are kept unless ``overwrite``.

    Returns:
        ``True``.

    Example:
        >>> resolve_links("test-R", "basic", "v3", url=server.url, cache_dir=cache)  # doctest: +SKIP
        True
    """
    cache_dir, url = cache.resolve_cache(cache_dir), _http.resolve_url(url)
    with cache.version_lock(cache_dir, project, asset, version):
        manifest = load_manifest(project, asset, version, cache_dir, url)
        _relink(_Copy(project, asset, version, cache_dir, url, overwrite), manifest, concurrent)
    return True


def save_version(
    project: str,
    asset: str,
    version: str,
    cache_dir: str | None = None,
    overwrite: bool = False,
    relink: bool = True,
    concurrent: int = DEFAULT_CONCURRENCY,
    url: str | None = None,
    progress: ProgressOption = None,
) -> str:
    """Download every file of a version into the cache; returns the version's local folder.

    Args:
        project: Project name.
        asset: Asset name.
        version: Version name.
        cache_dir: Cache folder; default :func:`cache_directory`.
        overwrite: Download again even if the version is complete in the cache.
        relink: Also place linked files (hard links to their ancestors' cached files).
        concurrent: Transfers at once: small files as requests in flight from one thread, large ones on
            threads (see :func:`_save_all`).
        url: gypsum REST URL; default :func:`rest_url`.
        progress: ``True`` for a progress bar in a terminal, or a callback (see :mod:`gypsum_flows.progress`).

    Returns:
        ``{cache}/bucket/P/A/V``.

    Example:
        >>> save_version("test-R", "basic", "v1", url=server.url, cache_dir=cache)  # doctest: +SKIP
    """
    cache_dir, url = cache.resolve_cache(cache_dir), _http.resolve_url(url)
    destination = cache.bucket_path(cache_dir, project, asset, version)
    marker = cache.complete_marker(cache_dir, project, asset, version)
    if not overwrite and os.path.exists(marker):
        return destination
    with cache.version_lock(cache_dir, project, asset, version):
        # Another process may have completed it while we waited for the lock.
        if not overwrite and os.path.exists(marker):
            return destination
        manifest = load_manifest(project, asset, version, cache_dir, url, overwrite)
        listing = [p for p in list_files(project, asset, version, url=url) if p != MANIFEST_FILE]
        links = _link_entries(manifest) if relink else []
        total = sum(manifest[p]["size"] for p in [*listing, *links] if p in manifest)
        with Reporter(
            f"{project}/{asset}/{version}", files_total=len(listing) + len(links), bytes_total=total, progress=progress
        ) as report:
            copy = _Copy(project, asset, version, cache_dir, url, overwrite)
            _save_all(copy, listing, manifest, concurrent, report)
            if relink:
                _relink(copy, manifest, concurrent, report)
        cache.mark_complete(cache_dir, project, asset, version)
    return destination


def _is_clone_link(link: str, cache_dir: str) -> bool:
    """Whether ``link`` is a symbolic link into the cache's bucket (what a clone places, so it may replace it)."""
    if not os.path.islink(link):
        return False
    bucket = os.path.join(os.path.abspath(cache_dir), BUCKET_CACHE_NAME) + os.sep
    return os.path.abspath(os.path.join(os.path.dirname(link), os.readlink(link))).startswith(bucket)


def _symlink(target: str, link: str) -> None:
    """A symlink ``link`` -> ``target``, atomically replacing one already there; hard link or copy on Windows."""
    try:
        os.symlink(target, link)
        return
    except FileExistsError:
        if os.readlink(link) == target:
            return
    except OSError as exc:
        if os.name != "nt":
            raise OSError(exc.errno or errno.EIO, f"cannot create a symbolic link to '{target}' at '{link}'") from exc
        cache.place_link(target, link)
        return
    replacement = f"{link}.gypsum-{os.getpid()}.tmp"
    os.symlink(target, replacement)
    os.replace(replacement, link)


def _clone_places(destination: str, paths: list[str], cache_dir: str) -> dict[str, str]:
    """Where each of ``paths`` goes in the clone ``destination`` (a real path), after checking nothing is in the way.

    Raises:
        FileExistsError: A file that is not a symlink into the cache (an earlier clone's) is at one of the
            places, or a folder on the way is a symbolic link that leads outside ``destination``.
    """
    places, checked = {}, set()
    for path in paths:
        places[path] = link = os.path.join(destination, *path.split("/"))
        folder = os.path.dirname(link)
        if folder not in checked:
            real = os.path.realpath(folder)
            if real != destination and not real.startswith(destination + os.sep):
                raise FileExistsError(
                    errno.EEXIST,
                    f"clone_version does not write '{path}' through a symbolic link that leads outside {destination}",
                    folder,
                )
            checked.add(folder)
    clashes = [link for link in places.values() if os.path.lexists(link) and not _is_clone_link(link, cache_dir)]
    if clashes:
        raise FileExistsError(
            errno.EEXIST,
            f"clone_version does not replace files it did not create ({len(clashes)} in the way, e.g. {clashes[:3]})",
            clashes[0],
        )
    return places


def clone_version(
    project: str,
    asset: str,
    version: str,
    destination: str,
    download: bool = True,
    cache_dir: str | None = None,
    url: str | None = None,
    **kwargs: Any,
) -> None:
    """Recreate a version's files in ``destination`` as symlinks to the cache, ready to modify and upload.

    With ``download=False`` nothing but the manifest is downloaded and the
    symlinks may dangle; :func:`prepare_directory_upload` still turns them
    into upload links. A symlink into the cache already at a file's place
    (an earlier clone's) is replaced; any other file there, or a symlinked
    folder leading outside ``destination``, raises ``FileExistsError`` before
    anything is written.

    Args:
        project: Project name.
        asset: Asset name.
        version: Version name.
        destination: Folder to create the clone in.
        download: Save the version first (``**kwargs`` go to :func:`save_version`).
        cache_dir: Cache folder; default :func:`cache_directory`.
        url: gypsum REST URL; default :func:`rest_url`.
        **kwargs: For :func:`save_version`, e.g. ``relink=False``.

    Example:
        >>> clone_version("test-R", "basic", "v1", "/tmp/clone", url=server.url, cache_dir=cache)  # doctest: +SKIP
    """
    cache_dir, url = cache.resolve_cache(cache_dir), _http.resolve_url(url)
    if download:
        save_version(project, asset, version, cache_dir=cache_dir, url=url, **kwargs)
    manifest = load_manifest(project, asset, version, cache_dir, url)
    targets = cache.version_files(os.path.abspath(cache_dir), project, asset, version, manifest)
    os.makedirs(destination, exist_ok=True)
    places = _clone_places(os.path.realpath(destination), list(manifest), cache_dir)
    for folder in {os.path.dirname(link) for link in places.values()}:
        os.makedirs(folder, exist_ok=True)
    for path, link in places.items():
        _symlink(targets[path], link)
