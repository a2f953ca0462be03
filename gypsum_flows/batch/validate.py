"""Whole-spec validation: the spec itself, then every local metadata file it will publish.

Runs without a gypsum server (the published schema is fetched, or its packaged
copy used), so ``gypsum-flows check`` and the first step of ``publish-batch``
find every problem before a single request reaches the server.

Example:
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> (folder / "data").mkdir()
    >>> _ = (folder / "s.yaml").write_text("assets: [{project: p, asset: a, version: v, directory: data}]")
    >>> try:
    ...     validate_spec(folder / "s.yaml", fetch_schema=lambda name: "unused")
    ... except SpecError as exc:
    ...     print(exc.problems[0].field, "->", exc.problems[0].message.split(": ")[-1])
    assets[0].directory -> no metadata file named '_bioconductor.json' found
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .metadata import MetadataCheck, Violation, metadata_violations
from .spec import AssetJob, BatchSpec, SpecError, SpecProblem, load_spec

#: ``fetch_schema(name) -> local path`` of a published schema.
SchemaFetcher = Callable[[str], str]


def schema_path(check: MetadataCheck, fetch_schema: SchemaFetcher) -> str:
    """The local schema file for ``check``: its own file, else the published schema fetched by name.

    Example:
        >>> schema_path(MetadataCheck(), fetch_schema=lambda name: f"/cache/schemas/{name}")
        '/cache/schemas/bioconductor/v1.json'
    """
    return check.schema_file or fetch_schema(check.schema_name)


def validate_spec(
    path: str | Path, fetch_schema: SchemaFetcher | None = None, allow_outside: bool = False
) -> BatchSpec:
    """Load ``path`` (see :func:`load_spec`) and validate every local metadata file of its assets.

    A folder asset must carry valid metadata (as its ``metadata`` rule says); a
    clone asset's overlay files are checked too (the cloned files are checked
    after cloning). Raises :class:`SpecError` listing every problem, each with
    the spec line of the asset and the metadata file and field at fault.
    """
    spec, problems = load_and_validate(path, fetch_schema, allow_outside)
    if problems:
        raise SpecError([p for found in problems.values() for p in found])
    return spec


def load_and_validate(
    path: str | Path, fetch_schema: SchemaFetcher | None = None, allow_outside: bool = False
) -> tuple[BatchSpec, dict[int, list[SpecProblem]]]:
    """The spec (a structure problem raises :class:`SpecError`) and each asset's metadata problems.

    Returns:
        The spec, and ``spec_index -> problems`` for every asset whose local metadata fails
        (an asset-level problem: a batch can publish the other assets).

    Example:
        >>> import tempfile, pathlib
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> (folder / "data").mkdir()
        >>> _ = (folder / "s.yaml").write_text("assets: [{project: p, asset: a, version: v, directory: data}]")
        >>> spec, problems = load_and_validate(folder / "s.yaml", fetch_schema=lambda name: "unused")
        >>> len(spec.assets), list(problems)
        (1, [0])
    """
    spec = load_spec(path, allow_outside=allow_outside)
    fetch = fetch_schema or _default_fetcher()
    problems = {job.spec_index: found for job in spec.assets if (found := job_metadata_problems(job, fetch))}
    return spec, problems


def job_metadata_problems(job: AssetJob, fetch_schema: SchemaFetcher) -> list[SpecProblem]:
    """The metadata problems of one job's local files, located at the job's spec line.

    Example:
        >>> import tempfile
        >>> job = AssetJob(project="p", asset="a", version="v", directory=tempfile.mkdtemp(), spec_line=3)
        >>> [p.line for p in job_metadata_problems(job, fetch_schema=lambda name: "unused")]
        [3]
    """
    if job.metadata is None:
        return []
    if job.directory is not None:
        folder, field, rule = job.directory, "directory", job.metadata
    elif job.clone is not None and job.clone.overlay is not None:
        folder, field, rule = job.clone.overlay, "clone.overlay", job.metadata.model_copy(update={"required": False})
    else:
        return []
    violations = metadata_violations(folder, rule, schema_path(rule, fetch_schema))
    field = f"assets[{job.spec_index}].{field}"
    return [_as_problem(v, job.spec_file, job.spec_line, field, folder) for v in violations]


def _as_problem(violation: Violation, file: str, line: int, field: str, folder: str) -> SpecProblem:
    where = str(Path(folder) / violation.file) if violation.file else folder
    detail = f"{violation.where}: {violation.message}" if violation.where else violation.message
    return SpecProblem(file, line, field, f"{where}: {detail}")


def _default_fetcher() -> SchemaFetcher:
    from ..client.metadata import fetch_metadata_schema

    return lambda name: fetch_metadata_schema(name)
