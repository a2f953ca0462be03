"""The metadata gate of the publishing flows: every metadata file valid, or nothing is uploaded.

Example:
    >>> print(metadata_error("p/a/v1", ["x/_bioconductor.json: $: 'title' is required"]))
    metadata of p/a/v1 failed validation (1 problem); nothing was uploaded:
      x/_bioconductor.json: $: 'title' is required
"""

from __future__ import annotations

from ..batch.metadata import MetadataCheck, Violation, metadata_violations
from ..batch.validate import schema_path
from ..blocks import GypsumCredentials
from ..errors import GypsumMetadataError
from ..tasks.base import gypsum_task
from .credentials import resolve_credentials


@gypsum_task("validate_folder_metadata({directory})", retries=0, tags=frozenset())
def validate_folder_metadata(
    directory: str, metadata: MetadataCheck, *, credentials: GypsumCredentials | None = None
) -> list[Violation]:
    """Every violation of every metadata file under ``directory`` (an empty list when all pass).

    Example::

        @flow
        def lint(folder: str) -> list[str]:
            return [str(v) for v in validate_folder_metadata(folder, MetadataCheck())]
    """
    client = resolve_credentials(credentials).get_client()
    return metadata_violations(directory, metadata, schema_path(metadata, client.fetch_metadata_schema))


def metadata_error(
    label: str, problems: list[str], violations: list[tuple[str, str]] | None = None
) -> GypsumMetadataError:
    """The one error that lists every metadata problem of ``label`` (``violations``: its ``(where, message)`` pairs).

    Example:
        >>> metadata_error("p/a/v1", ["a", "b"]).args[0].splitlines()[0]
        'metadata of p/a/v1 failed validation (2 problems); nothing was uploaded:'
    """
    count = f"{len(problems)} problem" + "s" * (len(problems) != 1)
    listing = "\n".join(f"  {p}" for p in problems)
    return GypsumMetadataError(
        f"metadata of {label} failed validation ({count}); nothing was uploaded:\n{listing}", violations
    )


def raise_for_violations(label: str, violations: list[Violation]) -> None:
    """Raise one :class:`GypsumMetadataError` listing every violation, if there are any.

    Example:
        >>> try:
        ...     raise_for_violations("p/a/v1", [Violation("x/_bioconductor.json", "$", "'title' is required")])
        ... except GypsumMetadataError as exc:
        ...     print(exc.violations)
        [('x/_bioconductor.json:$', "'title' is required")]
    """
    if violations:
        pairs = [(f"{v.file}:{v.where}" if v.file else v.where, v.message) for v in violations]
        raise metadata_error(label, [str(v) for v in violations], pairs)
