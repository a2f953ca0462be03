"""The ``publish-asset`` flow: one asset of a batch spec, as its own flow run (on any worker).

``publish-batch`` in fan-out mode starts one run of this flow's deployment
per asset (see :mod:`gypsum_flows.flows.fan_out`), so any worker of the pool
can pick up any asset. It can also be run by hand to publish a single version
of a spec. The run reads the spec (so every worker needs a path to the spec
and its folders: a shared filesystem or a pull step), finds the asset by
``project/asset/version``, holds the project's slot
(:mod:`gypsum_flows.flows.project_slots`) and publishes it with the task the
in-process batch runs (after checking its metadata): an already published
version is ``unchanged``, an interrupted upload of it is recovered (admin
token) and redone.

The outcome is the flow's return value, and also the message of its final
state, so the batch that started the run reads it without sharing result
storage with the worker.

Example::

    from gypsum_flows.flows.publish_asset import publish_asset_flow

    publish_asset_flow("/shared/specs/scrnaseq.yaml", "scrnaseq", "zeisel-brain", "2024-02-01",
                       credentials="gypsum")
"""

from __future__ import annotations

from prefect import flow
from prefect.states import Completed, State

from ..batch.spec import AssetJob, load_spec
from ..errors import GypsumSpecError
from .credentials import resolve_credentials
from .metadata import raise_for_violations, validate_folder_metadata
from .project_slots import project_slot
from .publish_batch import submit_asset
from .report import Outcome


@flow(name="publish-asset", flow_run_name="publish-asset-{project}-{asset}-{version}")
def publish_asset_flow(
    spec: str,
    project: str,
    asset: str,
    version: str,
    recover_interrupted_upload: bool = True,
    credentials: str | None = None,
    allow_outside: bool = False,
) -> State[Outcome]:
    """Publish the asset ``project/asset/version`` of the YAML spec at ``spec``, holding the project's slot.

    Args:
        spec: Absolute path of the batch spec, readable on the worker.
        project: Project of the asset to publish.
        asset: Asset name.
        version: Version name.
        recover_interrupted_upload: Clear an interrupted upload of this version, then publish it again
            (needs an admin token).
        credentials: The name of a saved GypsumCredentials block, or ``None`` for the worker's client
            defaults (GYPSUM_REST_URL, GYPSUM_TOKEN, the cached token).
        allow_outside: Accept folders outside the spec's own folder (as the batch that started it).

    Returns:
        The outcome (``published`` or ``unchanged``); the final state's message holds it as JSON.

    Raises:
        SpecError: The spec cannot be read or is invalid.
        GypsumSpecError: The spec holds no such asset.
    """
    job = find_job(spec, project, asset, version, allow_outside)
    creds = resolve_credentials(credentials)
    if job.directory is not None and job.metadata is not None:  # a clone's metadata is validated after cloning
        raise_for_violations(job.label, validate_folder_metadata(job.directory, job.metadata, credentials=creds))
    with project_slot(project, required=True):
        outcome = submit_asset(job, recover_interrupted_upload, creds).result()
    return Completed(message=outcome.model_dump_json(), data=outcome)


def find_job(spec: str, project: str, asset: str, version: str, allow_outside: bool = False) -> AssetJob:
    """The job of ``project/asset/version`` in the spec at ``spec`` (loaded and validated afresh).

    Example::

        find_job("deployments/specs/scrnaseq.yaml", "scrnaseq", "zeisel-brain", "2024-02-01").directory
    """
    label = f"{project}/{asset}/{version}"
    for job in load_spec(spec, allow_outside=allow_outside).assets:
        if job.label == label:
            return job
    raise GypsumSpecError(f"{spec}: no asset {label} in this spec (was it edited since the batch started?)")
