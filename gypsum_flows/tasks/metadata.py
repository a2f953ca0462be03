"""Tasks for the metadata index and schemas: fetch, validate, search.

``fetch_metadata_database`` and ``fetch_metadata_schema`` download into the
gypsum cache and keep their own freshness rules, so they always run (and are
retried on transient failures). Validation, query building and search are
local and are never retried.

Example::

    from prefect import flow
    from gypsum_flows.tasks import fetch_metadata_database, search_metadata_text
"""

from __future__ import annotations

from typing import Any

from ..blocks import GypsumCredentials
from .base import client_for, gypsum_task


@gypsum_task("fetch_metadata_database[{name}]")
def fetch_metadata_database(
    name: str = "bioconductor.sqlite3",
    overwrite: bool = False,
    url: str | None = None,
    *,
    credentials: GypsumCredentials | None = None,
) -> str:
    """Download (or reuse, while unchanged upstream) a SQLite metadata index into the gypsum cache.

    Args:
        url: where the index is published (not the gypsum server); default
            ``GYPSUM_METADATA_URL`` or the Bioconductor index.

    Returns:
        The local path of the database.

    Example:
        In a flow: ``fetch_metadata_database()``.
    """
    return client_for(credentials).fetch_metadata_database(name, overwrite=overwrite, url=url)


@gypsum_task("fetch_metadata_schema[{name}]")
def fetch_metadata_schema(
    name: str = "bioconductor/v1.json",
    overwrite: bool = False,
    url: str | None = None,
    *,
    credentials: GypsumCredentials | None = None,
) -> str:
    """Download (once) a JSON schema for metadata documents into the gypsum cache.

    Args:
        url: where schemas are published (not the gypsum server); default
            ``GYPSUM_SCHEMA_URL`` or the Bioconductor index site.

    Returns:
        The local path of the schema.

    Example:
        In a flow: ``fetch_metadata_schema("bioconductor/v1.json")``.
    """
    return client_for(credentials).fetch_metadata_schema(name, overwrite=overwrite, url=url)


@gypsum_task(retries=0)
def validate_metadata(
    metadata: str | dict[str, Any],
    schema: str | dict[str, Any] | None = None,
    stringify: bool | None = None,
    *,
    credentials: GypsumCredentials | None = None,
) -> bool:
    """Check a metadata document against a JSON schema (a file, the schema itself, or None for the default).

    Returns:
        True; raises ``GypsumMetadataError`` listing every violation otherwise.

    Example:
        In a flow: ``validate_metadata(doc, fetch_metadata_schema("bioconductor/v1.json"))``.
    """
    return client_for(credentials).validate_metadata(metadata, schema, stringify=stringify)


@gypsum_task(retries=0)
def define_text_query(
    text: str,
    field: str | None = None,
    partial: bool = False,
    *,
    credentials: GypsumCredentials | None = None,
) -> Any:
    """A text clause for :func:`search_metadata_text`; combine clauses with ``&``, ``|`` and ``~``.

    Example:
        ```python
        @flow
        def mouse_clause():
            return define_text_query("mus%", field="organism", partial=True)
        ```
    """
    return client_for(credentials).define_text_query(text, field=field, partial=partial)


@gypsum_task(retries=0)
def search_metadata_text(
    path: str,
    query: Any,
    latest: bool = True,
    include_metadata: bool = True,
    *,
    credentials: GypsumCredentials | None = None,
) -> list[dict[str, Any]]:
    """Search a metadata index for documents matching a text query.

    Args:
        path: the SQLite index, e.g. from :func:`fetch_metadata_database`.
        query: a string, a list of strings (all must match) or a clause.
        latest: only the latest version of each asset.

    Returns:
        One dict per match: ``project``, ``asset``, ``version``, ``path`` (and ``metadata``, ``latest``).

    Example:
        In a flow: ``search_metadata_text(fetch_metadata_database(), "mouse", include_metadata=False)``.
    """
    return client_for(credentials).search_metadata_text(path, query, latest=latest, include_metadata=include_metadata)
