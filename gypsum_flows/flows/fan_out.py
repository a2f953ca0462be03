"""Fan-out: each asset of a batch as its own run of the ``publish-asset`` deployment, on any worker.

In fan-out mode ``publish-batch`` does not publish in its own process. For
each asset it starts a flow run of the per-asset deployment
(:data:`ASSET_DEPLOYMENT`, from ``deployments/prefect.yaml``) with
``run_deployment`` and waits for it; whichever worker of the pool polls first
runs it. The batch still orders the runs as the in-process mode does (one
asset per project at a time, in spec order; up to ``concurrency`` projects at
once), and each run also holds its project's slot, so runs started by other
batches or by hand never upload into one project at the same time.

Workers need the package, the spec and its folders at the same paths (a
shared filesystem, or a pull step), and the credentials as a saved
``GypsumCredentials`` block: the batch sends the block's *name*, never a
token.

Example::

    publish_batch("/shared/specs/release.yaml", fan_out=True, credentials="gypsum")
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import cast
from uuid import UUID

import httpx
from prefect import get_client
from prefect.client.schemas.objects import FlowRun
from prefect.deployments import run_deployment
from prefect.exceptions import PrefectHTTPStatusError
from prefect.futures import PrefectFuture
from pydantic import ValidationError

from ..batch.spec import AssetJob
from ..blocks import GypsumCredentials
from ..errors import FanOutCredentialsError, InterruptedUploadError
from ..tasks.base import gypsum_task
from .credentials import resolve_credentials
from .idempotency import published_folder_outcome
from .report import Outcome

#: The per-asset deployment fan-out starts (``flow name/deployment name``).
ASSET_DEPLOYMENT = "publish-asset/default"
#: The flow of that deployment, as ``deployments/prefect.yaml`` names it.
ASSET_ENTRYPOINT = "gypsum_flows.flows.publish_asset:publish_asset_flow"
#: Seconds between two reads of a running asset's state.
POLL_SECONDS = 1.0


def on_workers(
    spec: str,
    recover_interrupted_upload: bool,
    credentials: GypsumCredentials | str | None,
    deployment: str,
    allow_outside: bool = False,
) -> Callable[[AssetJob], PrefectFuture[Outcome]]:
    """How the batch submits an asset in fan-out mode: a task that runs it on a worker and waits.

    Example::

        submit = on_workers("/shared/spec.yaml", True, "gypsum", ASSET_DEPLOYMENT)
        outcome = submit(job).result()
    """
    name = credentials_name(credentials)
    creds = resolve_credentials(credentials)

    def submit(job: AssetJob) -> PrefectFuture[Outcome]:
        return publish_asset_on_worker.submit(
            job,
            spec,
            recover_interrupted_upload,
            name,
            deployment,
            credentials_block=creds,
            allow_outside=allow_outside,
        )

    return submit


def credentials_name(credentials: GypsumCredentials | str | None) -> str | None:
    """What the per-asset runs get as ``credentials``: a saved block's name, or ``None`` (worker defaults).

    An unsaved block cannot travel: its token would have to be a flow
    parameter, which Prefect stores and shows.

    Example:
        >>> credentials_name("gypsum"), credentials_name(None)
        ('gypsum', None)
    """
    if credentials is None or isinstance(credentials, str):
        return credentials
    if (credentials.url, credentials.token, credentials.cache_dir) == (None, None, None):
        return None  # an empty block: the defaults, which each worker resolves itself
    name = getattr(credentials, "_block_document_name", None)
    if name and not getattr(credentials, "_is_anonymous", False):
        return name
    raise FanOutCredentialsError(
        "fan-out runs each asset on a worker, which loads the credentials by name: save the GypsumCredentials "
        "block (block.save('gypsum')) and pass its name, or pass none to use each worker's GYPSUM_* settings"
    )


# Retried after any failure to start the run (a Prefect API error, not a gypsum one): a second run of an asset
# is harmless, it holds the project's slot and finds the version published. No tags, as the in-process asset task.
@gypsum_task(
    "publish_asset_on_worker[{job.label}]",
    retries=2,
    tags=frozenset(),
    retry_delay_seconds=5,
    retry_jitter_factor=None,
    retry_condition_fn=None,
)
def publish_asset_on_worker(
    job: AssetJob,
    spec: str,
    recover_interrupted_upload: bool,
    credentials: str | None,
    deployment: str,
    *,
    credentials_block: GypsumCredentials,
    allow_outside: bool = False,
) -> Outcome:
    """Start one run of ``deployment`` for ``job``, wait for it to finish, and return its outcome.

    A folder already published with the same files is reported ``unchanged``
    here, without a run (a re-run of a big batch starts no processes); an
    interrupted upload is left to the run, which holds the project's slot.

    Example::

        @flow
        def one(job: AssetJob) -> Outcome:
            return publish_asset_on_worker(job, "/shared/spec.yaml", True, "gypsum", ASSET_DEPLOYMENT,
                                           credentials_block=GypsumCredentials.load("gypsum"))
    """
    if job.directory is not None:
        try:
            done = published_folder_outcome(
                job.directory, job.project, job.asset, job.version, credentials_block, recover=False
            )
        except InterruptedUploadError:
            done = None
        if done is not None:
            return done
    run = run_deployment(
        deployment,
        parameters={
            "spec": spec,
            "project": job.project,
            "asset": job.asset,
            "version": job.version,
            "recover_interrupted_upload": recover_interrupted_upload,
            "credentials": credentials,
            "allow_outside": allow_outside,
        },
        timeout=0,
        tags=["gypsum", "fan-out"],
    )
    # Called from sync code, run_deployment returns the run; its signature also admits the coroutine.
    return run_outcome(job, wait_for_run(cast(FlowRun, run).id))


def wait_for_run(run_id: UUID) -> FlowRun:
    """The flow run ``run_id`` once it is final; a failed read of its state (5xx, network) is read again.

    A run outlives any error of the batch's connection to the API, so a
    momentary error must not turn a run that goes on into a failed asset.

    Example::

        final = wait_for_run(run_deployment(ASSET_DEPLOYMENT, parameters={...}, timeout=0).id)
    """
    with get_client(sync_client=True) as client:
        while True:
            try:
                run = client.read_flow_run(run_id)
                if run.state is not None and run.state.is_final():
                    return run
            except (httpx.TransportError, PrefectHTTPStatusError) as exc:
                if isinstance(exc, PrefectHTTPStatusError) and exc.response.status_code < 500:
                    raise
            time.sleep(POLL_SECONDS)


def run_outcome(job: AssetJob, run: FlowRun) -> Outcome:
    """The outcome a finished ``publish-asset`` run reported, or a ``failed`` row saying why it has none.

    Example:
        >>> from prefect.states import Failed
        >>> job = AssetJob(project="p", asset="a", version="v1", directory="/data")
        >>> run_outcome(job, FlowRun(flow_id=__import__("uuid").uuid4(), name="r", state=Failed(message="boom"))).detail
        'publish-asset run r ended Failed: boom'
    """
    state = run.state
    if state is not None and state.is_completed():
        try:
            return Outcome.model_validate_json(state.message or "")
        except ValidationError:
            pass
    shown = f"{state.name}: {state.message}" if state is not None else "without a state"
    return Outcome(
        project=job.project,
        asset=job.asset,
        version=job.version,
        outcome="failed",
        detail=f"publish-asset run {run.name} ended {shown}",
    )
