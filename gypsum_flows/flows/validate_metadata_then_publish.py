"""The ``validate-metadata-then-publish`` flow: every metadata file must pass before anything is uploaded.

The work is the task :func:`publish_folder`, which ``publish-batch`` also
runs once per asset inside its own flow run (a task run costs tens of
milliseconds; a subflow more than a second).

Example::

    from gypsum_flows.flows import validate_metadata_then_publish

    validate_metadata_then_publish("./zeisel", "scrnaseq", "zeisel-brain", "2024-02-01",
                                   credentials="local-gypsum")   # a saved GypsumCredentials block
"""

from __future__ import annotations

from typing import Any

from prefect import flow

from ..batch.metadata import MetadataCheck
from ..batch.spec import AssetJob
from ..blocks import GypsumCredentials
from ..errors import GypsumSpecError
from ..tasks.base import gypsum_task
from .credentials import resolve_credentials
from .idempotency import published_folder_outcome, upload_job
from .metadata import raise_for_violations, validate_folder_metadata
from .project_slots import project_slot
from .report import Outcome, artifact_key, emit_published, reported


@flow(name="validate-metadata-then-publish", flow_run_name="validate-publish-{project}-{asset}-{version}")
def validate_metadata_then_publish(
    directory: str,
    project: str,
    asset: str,
    version: str,
    probation: bool = False,
    deduplicate: bool = True,
    metadata: MetadataCheck | None = MetadataCheck(),
    recover_interrupted_upload: bool = True,
    inputs: list[str] | None = None,
    credentials: GypsumCredentials | str | None = None,
) -> Outcome:
    """Validate every metadata file of ``directory``, then publish it as ``project/asset/version``.

    Metadata files (default: every ``_bioconductor.json``, at any depth) are
    validated against the schema; if any fails, the flow fails with one report
    of every violation of every file, and nothing is uploaded. A version that
    already exists with the same files is reported as unchanged; with other
    files, the flow fails naming them.

    Args:
        directory: The folder to publish.
        project: Project name.
        asset: Asset name.
        version: Name of the new version.
        probation: Upload on probation.
        deduplicate: Files identical to the latest version's become links.
        metadata: Which files to validate against which schema; ``None`` skips validation.
        recover_interrupted_upload: If an earlier upload of this very version was
            interrupted (its lock still held), remove it and publish again (admin token).
        inputs: Asset keys (``gypsum://PROJECT/ASSET/VERSION``) of the versions this one
            was made from, recorded as its upstream Prefect assets.
        credentials: A GypsumCredentials block or the name of a saved one; ``None``
            uses the client defaults (GYPSUM_REST_URL, GYPSUM_TOKEN, the cached token).

    Returns:
        The outcome: ``published`` (with files sent vs linked) or ``unchanged``.
    """
    options: dict[str, Any] = {"probation": probation, "deduplicate": deduplicate, "metadata": metadata}
    job = AssetJob(project=project, asset=asset, version=version, directory=directory, inputs=inputs or [], **options)
    return publish_folder(job, recover_interrupted_upload, credentials=resolve_credentials(credentials))


# No tags (a tagged run first takes concurrency slots from the Prefect API); the default retries run the whole
# asset again after a transient failure, since each step is idempotent.
@gypsum_task("publish {job.label}", tags=frozenset())
def publish_folder(
    job: AssetJob, recover_interrupted_upload: bool = True, *, credentials: GypsumCredentials
) -> Outcome:
    """Publish the folder of ``job`` as its version (see :func:`validate_metadata_then_publish`).

    One task run per asset, named for it, with the asset's report as artifacts. ``job.metadata`` ``None``
    skips validation (``publish-batch`` validated the folder already).

    Example::

        @flow
        def publish_two(credentials: GypsumCredentials) -> list[Outcome]:
            jobs = [AssetJob(project="test-R", asset="basic", version=f"v{i}", directory=f"./v{i}") for i in (1, 2)]
            return [publish_folder(job, credentials=credentials) for job in jobs]
    """
    directory = job.directory
    if directory is None:
        raise GypsumSpecError(f"{job.label} names no directory: a clone is publish_clone's")
    pav = (job.project, job.asset, job.version)

    def run() -> Outcome:
        if job.metadata is not None:
            violations = validate_folder_metadata.fn(directory, job.metadata, credentials=credentials)
            raise_for_violations(job.label, violations)
        done = published_folder_outcome(directory, *pav, credentials, recover_interrupted_upload)
        if done is not None:
            return done
        outcome = upload_job(directory, job, credentials, recover_interrupted_upload, job.inputs)
        if outcome.outcome == "published":
            emit_published(outcome, credentials.resolved_url(), job.probation)
        return outcome

    with project_slot(job.project):  # one publisher per project, across machines
        return reported(f"Publish {job.label}", artifact_key("gypsum-publish", job.project, job.asset), *pav, run)
