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

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from ..batch.metadata import MetadataCheck
from ..blocks import GypsumCredentials
from ..tasks.policies import retry_options
from .checks import (
    check_folder_metadata,
    published_folder_outcome,
    raise_for_violations,
    resolve_credentials,
    upload_or_recover,
)
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
    return publish_folder(
        directory,
        project,
        asset,
        version,
        probation,
        deduplicate,
        metadata,
        recover_interrupted_upload,
        inputs,
        credentials=resolve_credentials(credentials),
    )


@task(
    name="publish_folder",
    task_run_name="publish {project}/{asset}/{version}",
    cache_policy=NO_CACHE,
    **retry_options(),  # the whole asset again after a transient failure: each step below is idempotent
)
def publish_folder(
    directory: str,
    project: str,
    asset: str,
    version: str,
    probation: bool = False,
    deduplicate: bool = True,
    metadata: MetadataCheck | None = MetadataCheck(),
    recover_interrupted_upload: bool = True,
    inputs: list[str] | None = None,
    *,
    credentials: GypsumCredentials,
) -> Outcome:
    """Publish one folder as ``project/asset/version`` (see :func:`validate_metadata_then_publish`).

    One task run per asset, named for it, with the asset's report as artifacts.

    Example::

        @flow
        def publish_two(credentials: GypsumCredentials) -> list[Outcome]:
            return [publish_folder(f"./v{i}", "test-R", "basic", f"v{i}", credentials=credentials) for i in (1, 2)]
    """
    label = f"{project}/{asset}/{version}"

    def run() -> Outcome:
        if metadata is not None:
            raise_for_violations(label, check_folder_metadata.fn(directory, metadata, credentials=credentials))
        done = published_folder_outcome(directory, project, asset, version, credentials, recover_interrupted_upload)
        if done is not None:
            return done
        outcome = upload_or_recover(
            directory,
            project,
            asset,
            version,
            probation=probation,
            deduplicate=deduplicate,
            credentials=credentials,
            recover=recover_interrupted_upload,
            inputs=inputs,
        )
        if outcome.outcome == "published":
            emit_published(outcome, credentials.resolved_url(), probation)
        return outcome

    with project_slot(project):  # one publisher per project, across machines
        return reported(
            f"Publish {label}", artifact_key("gypsum-publish", project, asset), project, asset, version, run
        )
