"""The ``index-update`` flow: keep a local metadata index in step with a gypsum server.

Deployed in ``deployments/prefect.yaml`` with triggers on the version
lifecycle events (published, approved, removed) and a schedule as a safety
net, so ``search_metadata_text`` on the folder's databases finds a new version
within a minute of its publication.

Example::

    from gypsum_flows.flows import index_update

    index_update("./metadata", credentials="gypsum")            # replay the logs since the last run
    index_update("./metadata", fresh=True, credentials="gypsum")  # rebuild from scratch
"""

from __future__ import annotations

from prefect import flow
from prefect.artifacts import create_markdown_artifact

from ..blocks import GypsumCredentials
from ..errors import IndexUpdateError
from ..tasks.index import update_metadata_index
from .credentials import resolve_credentials
from .report import artifact_key


@flow(name="index-update", flow_run_name="index-update")
def index_update(
    directory: str,
    fresh: bool = False,
    classes: list[str] | None = None,
    credentials: GypsumCredentials | str | None = None,
) -> dict:
    """Bring the metadata databases in ``directory`` up to date (incrementally, or fresh on request).

    Args:
        directory: Folder of the databases (e.g. ``bioconductor.sqlite3``) and their ``modified`` stamp.
        fresh: Rebuild from scratch instead of replaying the server's logs since the last run.
        classes: ``"BASENAME,DBNAME"`` pairs (default ``_bioconductor.json,bioconductor.sqlite3``).
        credentials: A GypsumCredentials block or the name of a saved one (only its URL is used).

    Returns:
        ``{"mode", "versions", "logs", "modified", "errors"}``.

    Raises:
        IndexUpdateError: Some versions or logs failed to index; the others are in the databases.
    """
    creds = resolve_credentials(credentials)
    report = update_metadata_index(directory, fresh=fresh, classes=classes, credentials=creds)
    lines = [
        f"# Index {report['mode']} of {creds.resolved_url()}",
        "",
        f"{report['versions']} versions indexed, {report['logs']} logs replayed into `{directory}` "
        f"(modified={report['modified']}).",
    ]
    lines += [f"- failed: {error}" for error in report["errors"]]
    create_markdown_artifact("\n".join(lines), key=artifact_key("gypsum-index-update"), description="Index update")
    if report["errors"]:
        raise IndexUpdateError(f"{len(report['errors'])} items failed to index: " + "; ".join(report["errors"][:5]))
    return report
