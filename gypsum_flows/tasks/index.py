"""A task that brings a local metadata index up to date with a gypsum server (:mod:`gypsum_flows.index`).

Example::

    from prefect import flow
    from gypsum_flows.tasks.index import update_metadata_index

    @flow
    def reindex() -> dict:
        return update_metadata_index("./metadata", credentials=GypsumCredentials(url="http://127.0.0.1:8787"))
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from prefect import get_run_logger

from ..blocks import GypsumCredentials
from ..cache import file_lock
from ..index.build import MODIFIED_FILE, IndexClass, build_fresh, update
from .base import gypsum_task

#: What the reference indexer indexes: Bioconductor metadata into bioconductor.sqlite3.
DEFAULT_CLASSES = ("_bioconductor.json,bioconductor.sqlite3",)


@gypsum_task("update_metadata_index({directory})", retries=0)
def update_metadata_index(
    directory: str,
    fresh: bool = False,
    classes: list[str] | None = None,
    *,
    credentials: GypsumCredentials | None = None,
) -> dict[str, Any]:
    """Replay the server's logs since the last build into the databases in ``directory`` (or build fresh).

    A fresh build runs when asked, or when ``directory`` holds no earlier
    build. Runs on one folder are serialised by a file lock beside it.

    Args:
        directory: Folder of the databases and their ``modified`` stamp.
        fresh: Rebuild from scratch instead of replaying logs.
        classes: ``"BASENAME,DBNAME"`` pairs (default: Bioconductor metadata).
        credentials: The server to index (only its URL is used: indexing reads public files).

    Returns:
        ``{"mode": "fresh"|"update", "versions", "logs", "modified", "errors"}``.

    Example:
        In a flow: ``update_metadata_index("./metadata", credentials=local)["logs"]``.
    """
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    parsed = [IndexClass.parse(spec) for spec in classes or DEFAULT_CLASSES]
    url = (credentials or GypsumCredentials()).resolved_url()
    with file_lock(str(out / MODIFIED_FILE)):
        mode = "fresh" if fresh or not (out / MODIFIED_FILE).exists() else "update"
        report = (build_fresh if mode == "fresh" else update)(url, out, parsed)
    get_run_logger().info(
        "Index %s of %s in %s: %d versions indexed, %d logs replayed, %d errors",
        mode,
        url,
        out,
        report.versions,
        report.logs,
        len(report.errors),
    )
    return {"mode": mode, **asdict(report)}
