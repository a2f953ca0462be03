"""Fresh builds and incremental updates of metadata indexes (sections 8.6 and 8.7 of docs/gypsum-api.md).

A *class* maps a metadata file's base name to a database, e.g.
``_bioconductor.json`` -> ``bioconductor.sqlite3``. Both builds write the
databases and the ``modified`` stamp (Unix milliseconds) into one folder,
which a gypsum-flows server can serve as its ``metadata_dir``.

- :func:`build_fresh` indexes every finished, non-probational version into
  new files and moves them into place only when done.
- :func:`update` replays the registry's ``..logs`` newer than the stamp, in
  time order, on a copy that replaces the databases when done; replaying a
  log twice is harmless.

Example:
    >>> IndexClass.parse("_bioconductor.json,bioconductor.sqlite3")
    IndexClass(basename='_bioconductor.json', database='bioconductor.sqlite3')
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..client.metadata import read_modified_stamp, write_modified_stamp
from ..errors import GypsumNotFoundError
from .db import IndexWriter
from .reader import LogEntry, RestRegistry

logger = logging.getLogger(__name__)

#: The stamp file written next to the databases.
MODIFIED_FILE = "modified"


@dataclass(frozen=True)
class IndexClass:
    """Files named ``basename`` (at any depth of a version) go into ``database``."""

    basename: str
    database: str

    @classmethod
    def parse(cls, spec: str) -> IndexClass:
        """From ``"BASENAME,DBNAME"``, as the reference indexer's ``--class``."""
        basename, sep, database = spec.partition(",")
        if not sep or not basename.strip() or not database.strip() or "/" in basename + database:
            raise ValueError(
                f"expected a class as 'BASENAME,DBNAME' without '/', e.g. "
                f"'_bioconductor.json,bioconductor.sqlite3' (got {spec!r})"
            )
        return cls(basename.strip(), database.strip())


@dataclass
class IndexReport:
    """What a build did: versions indexed, logs replayed, the new stamp and any per-item errors."""

    versions: int = 0
    logs: int = 0
    modified: int | None = None
    errors: list[str] = field(default_factory=list)

    def failed(self, what: str, exc: BaseException) -> None:
        message = f"{what}: {type(exc).__name__}: {exc}"
        logger.warning("indexing: %s", message)
        self.errors.append(message)


def _check_classes(classes: list[IndexClass]) -> None:
    if not classes:
        raise ValueError("expected at least one index class")
    for attr in ("basename", "database"):
        values = [getattr(c, attr) for c in classes]
        if len(set(values)) != len(values):
            raise ValueError(f"index classes repeat a {attr}: {values}")


@contextlib.contextmanager
def _staged_writers(
    out: Path, classes: list[IndexClass], *, copy_existing: bool
) -> Iterator[dict[IndexClass, IndexWriter]]:
    """Writers on temporary files beside the databases, moved into place only when the block succeeds.

    A server may be serving the databases meanwhile: it sees the old file or the new one, never a mix.
    """
    temporary: dict[IndexClass, str] = {}
    try:
        for cls in classes:
            fd, temporary[cls] = tempfile.mkstemp(dir=out, prefix=f".{cls.database}.", suffix=".tmp")
            os.close(fd)
            if copy_existing:
                shutil.copyfile(out / cls.database, temporary[cls])
        with contextlib.ExitStack() as stack:
            # Bulk mode is safe here: a crash leaves only a temporary file behind.
            yield {cls: stack.enter_context(IndexWriter(tmp, bulk=True)) for cls, tmp in temporary.items()}
        for cls, tmp in temporary.items():
            os.replace(tmp, out / cls.database)
    finally:
        for tmp in temporary.values():
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)


def _index_version(
    registry: RestRegistry,
    writers: dict[IndexClass, IndexWriter],
    project: str,
    asset: str,
    version: str,
    latest: bool,
    summary: dict[str, Any],
) -> None:
    documents = registry.documents(project, asset, version, {c.basename for c in writers})
    for cls, writer in writers.items():
        writer.add_version(project, asset, version, latest, summary, documents[cls.basename])


def _fresh_asset(
    registry: RestRegistry, writers: dict[IndexClass, IndexWriter], project: str, asset: str, report: IndexReport
) -> None:
    latest = registry.latest(project, asset)
    if latest is None:
        return  # only probational (or no) versions: nothing public yet
    for version in registry.versions(project, asset):
        try:
            summary = registry.summary(project, asset, version)
            if summary.get("on_probation") or "upload_finish" not in summary:
                continue  # an add-version log will bring it in once approved or finished
            _index_version(registry, writers, project, asset, version, version == latest, summary)
            report.versions += 1
        except Exception as exc:  # noqa: BLE001 - one broken version must not stop the build
            report.failed(f"{project}/{asset}/{version}", exc)


def build_fresh(url: str, out_dir: str | os.PathLike[str], classes: list[IndexClass]) -> IndexReport:
    """Index every finished, non-probational version of the registry at ``url`` from scratch.

    The databases are built in temporary files next to their destination and
    replace any previous ones only at the end; ``modified`` is the time the
    build started, so actions during the build are replayed by :func:`update`.

    Args:
        url: The gypsum server.
        out_dir: Folder for the databases and ``modified``.
        classes: What to index where.

    Returns:
        What was indexed, and any per-version errors (the build goes on).

    Example:
        >>> bioc = IndexClass.parse("_bioconductor.json,bioconductor.sqlite3")
        >>> build_fresh(server_url, "out", [bioc])  # doctest: +SKIP
    """
    _check_classes(classes)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    report = IndexReport(modified=int(time.time() * 1000))
    registry = RestRegistry(url)
    with _staged_writers(out, classes, copy_existing=False) as writers:
        for project in registry.projects():
            with contextlib.ExitStack() as batches:  # one transaction per project and database
                for writer in writers.values():
                    batches.enter_context(writer.batch())
                for asset in registry.assets(project):
                    _fresh_asset(registry, writers, project, asset, report)
    write_modified_stamp(out / MODIFIED_FILE, str(report.modified))
    return report


def _replay(registry: RestRegistry, writers: dict[IndexClass, IndexWriter], log: LogEntry) -> None:
    """Apply one log record to every database."""
    content = log.content
    kind = content.get("type")
    project = content["project"]
    if kind == "add-version":
        asset, version = content["asset"], content["version"]
        try:
            summary = registry.summary(project, asset, version)
            _index_version(registry, writers, project, asset, version, bool(content.get("latest")), summary)
        except GypsumNotFoundError:
            # Removed since; a later log deletes it (and resets the latest version).
            logger.info("indexing: %s/%s/%s is gone, skipping its add-version log", project, asset, version)
    elif kind == "delete-version":
        asset, version = content["asset"], content["version"]
        for writer in writers.values():
            writer.delete_version(project, asset, version)
        if content.get("latest"):
            latest = registry.latest(project, asset)
            if latest is not None:
                for writer in writers.values():
                    writer.set_latest(project, asset, latest)
    elif kind == "delete-asset":
        for writer in writers.values():
            writer.delete_asset(project, content["asset"])
    elif kind == "delete-project":
        for writer in writers.values():
            writer.delete_project(project)
    else:
        raise ValueError(f"unknown log type {kind!r}")


def update(url: str, out_dir: str | os.PathLike[str], classes: list[IndexClass]) -> IndexReport:
    """Bring the databases in ``out_dir`` up to date by replaying the registry's newer logs.

    Args:
        url: The gypsum server.
        out_dir: Folder holding the databases and ``modified`` of an earlier build.
        classes: What to index where (the same as the earlier build).

    Returns:
        The logs replayed, the new stamp (the last log's time; unchanged when
        there were none) and any per-log errors (the update goes on).

    Raises:
        FileNotFoundError: ``out_dir`` lacks ``modified`` or a database: build fresh first.

    Example:
        >>> bioc = IndexClass.parse("_bioconductor.json,bioconductor.sqlite3")
        >>> update(server_url, "out", [bioc])  # doctest: +SKIP
    """
    _check_classes(classes)
    out = Path(out_dir)
    last = read_modified_stamp(out / MODIFIED_FILE)
    if last is None:
        raise FileNotFoundError(f"no readable '{MODIFIED_FILE}' in '{out}'; run a fresh build first")
    for cls in classes:
        if not (out / cls.database).is_file():
            raise FileNotFoundError(f"no database '{cls.database}' in '{out}'; run a fresh build first")
    registry = RestRegistry(url)
    report = IndexReport(modified=int(last))
    logs = registry.logs_after(int(last))
    if not logs:
        return report
    with _staged_writers(out, classes, copy_existing=True) as writers:
        for log in logs:
            try:
                _replay(registry, writers, log)
                report.logs += 1
            except Exception as exc:  # noqa: BLE001 - one broken log must not stall the index
                report.failed(f"log '{log.name}' ({log.content})", exc)
    report.modified = logs[-1].time
    write_modified_stamp(out / MODIFIED_FILE, str(report.modified))
    return report
