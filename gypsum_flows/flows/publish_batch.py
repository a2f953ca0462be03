"""The ``publish-batch`` flow: every asset of a YAML spec, in parallel, each one isolated.

The whole spec (names, folders, duplicates, every local metadata file) is
validated before the first request to the server: a problem with the spec's
structure stops everything. An asset whose metadata is invalid is reported
failed with nothing uploaded, and the others are published, unless the batch
is ``strict`` (the argument, or ``strict: true`` in the spec): then any
invalid metadata stops the whole batch before any upload.

Each asset then runs as one task run of this flow run, named for the asset
(``publish project/asset/version``): :func:`~.validate_metadata_then_publish.publish_folder`
for a folder, :func:`~.clone_modify_upload.publish_clone` for a clone, the
same tasks the ``validate-metadata-then-publish`` and ``clone-modify-upload``
flows run. A task run costs tens of milliseconds where a subflow costs more
than a second. Up to ``concurrency`` assets run at once, but at most one per
project: gypsum locks a whole project during an upload, so assets of one
project go one after the other, in the order of the spec (which also lets a
clone build on a version published earlier in the same spec). A failed asset
does not stop the others; the flow ends failed, its state message naming each
failed asset and why, if any failed. Re-running a spec is safe: published
versions are reported as unchanged (local MD5s are reused while a file's
size, mtime and inode stay the same), and an upload interrupted by a killed
process is cleared and redone (admin token).

Example::

    from gypsum_flows.flows import publish_batch

    publish_batch("deployments/specs/scrnaseq.yaml", credentials="local-gypsum")
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prefect import flow, get_run_logger
from prefect.context import SyncClientContext
from prefect.futures import PrefectFuture, as_completed
from prefect.task_runners import ThreadPoolTaskRunner

from ..batch.spec import AssetJob, BatchSpec, SpecError, SpecProblem
from ..batch.validate import load_and_validate
from ..blocks import GypsumCredentials
from ..errors import GypsumError
from ..tasks.base import gypsum_task
from .clone_modify_upload import publish_clone
from .credentials import resolve_credentials
from .fan_out import ASSET_DEPLOYMENT, on_workers
from .metadata import metadata_error
from .report import Outcome, Progress, artifact_key, failed, publish_report
from .validate_metadata_then_publish import publish_folder

#: Assets published at once when neither the caller nor the spec says.
DEFAULT_CONCURRENCY = 4
#: Threads of the batch's task runner: the upper bound of any ``concurrency``.
MAX_CONCURRENCY = 64


class BatchFailedError(GypsumError):
    """Some assets of a batch failed; ``outcomes`` holds every asset's outcome."""

    def __init__(self, spec: str, outcomes: list[Outcome]) -> None:
        self.outcomes = outcomes
        bad = [o for o in outcomes if o.outcome == "failed"]
        lines = "\n".join(f"  {o.label}: {(o.detail.splitlines() or [''])[0]}" for o in bad)
        super().__init__(f"{len(bad)} of {len(outcomes)} assets of {spec} failed:\n{lines}")


@flow(
    name="publish-batch",
    flow_run_name="publish-batch",
    # Prefect types task_runner invariantly, so none of its own runners fits it.
    task_runner=ThreadPoolTaskRunner(max_workers=MAX_CONCURRENCY),  # type: ignore[arg-type]
)
def publish_batch(
    spec: str,
    concurrency: int | None = None,
    recover_interrupted_upload: bool = True,
    credentials: GypsumCredentials | str | None = None,
    strict: bool | None = None,
    allow_outside: bool = False,
    fan_out: bool | None = None,
    asset_deployment: str = ASSET_DEPLOYMENT,
) -> list[Outcome]:
    """Publish every asset of the YAML spec at ``spec`` (a path; relative paths inside it are from its folder).

    Args:
        spec: Path of the YAML spec file.
        concurrency: Assets published at once (default: the spec's ``concurrency``, else 4).
        recover_interrupted_upload: Clear an interrupted upload of a version this batch
            publishes, then publish it again (needs an admin token).
        credentials: A GypsumCredentials block, the name of a saved one, or ``None``
            for the client defaults (GYPSUM_REST_URL, GYPSUM_TOKEN, the cached token).
        strict: All or nothing: any invalid metadata stops the batch before any upload
            (default: the spec's ``strict``, else false: the other assets are published).
        allow_outside: Accept folders outside the spec's own folder (refused by default,
            so a spec from an untrusted source cannot publish whatever the worker can read).
        fan_out: Publish each asset as its own run of ``asset_deployment``, on any worker
            of its pool (default: the spec's ``fan_out``, else in this process); needs a
            saved block's name (or ``None``) as ``credentials``.
        asset_deployment: The per-asset deployment fan-out starts.

    Returns:
        One outcome per asset, in spec order.

    Raises:
        SpecError: The spec is invalid, or (strict) some metadata is (nothing was sent to the server).
        BatchFailedError: Some assets failed; the others were published.
    """
    creds = resolve_credentials(credentials)
    batch, invalid = validate_batch_spec(spec, allow_outside, credentials=creds)
    if invalid and (batch.strict if strict is None else strict):
        raise SpecError([problem for found in invalid.values() for problem in found])
    limit = max(1, min(concurrency or batch.concurrency or DEFAULT_CONCURRENCY, MAX_CONCURRENCY))
    key = artifact_key("gypsum-batch", batch.path.rsplit("/", 1)[-1].rsplit(".", 1)[0])
    progress = Progress(len(batch.assets), f"{key}-progress", f"Publishing {len(batch.assets)} assets of {spec}")
    results = {
        job.spec_index: invalid_outcome(job, invalid[job.spec_index])
        for job in batch.assets
        if job.spec_index in invalid
    }
    todo = [job for job in batch.assets if job.spec_index not in invalid]

    def in_process(job: AssetJob) -> PrefectFuture[Outcome]:
        return submit_asset(job, recover_interrupted_upload, creds)

    fanned = batch.fan_out if fan_out is None else fan_out
    if fanned:
        submit = on_workers(batch.path, recover_interrupted_upload, credentials, asset_deployment, allow_outside)
    else:
        submit = in_process

    # One Prefect API client for every artifact and read of the batch, its asset task runs included (they
    # inherit this context): Prefect's helpers otherwise build a client, TLS context and all, per call.
    with SyncClientContext.get_or_create():
        for job, future in run_per_project(todo, limit, submit):
            results[job.spec_index] = _outcome(job, future)
            progress.advance(f"{results[job.spec_index].label}: {results[job.spec_index].outcome}")
    outcomes = [results[i] for i in sorted(results)]
    publish_report(f"Batch {spec}", outcomes, key)
    if any(o.outcome == "failed" for o in outcomes):
        raise BatchFailedError(spec, outcomes)
    return outcomes


# No retries and no tags: the spec and its folders are local (a schema download has the client's own retries).
@gypsum_task("validate_batch_spec({path})", retries=0, tags=frozenset())
def validate_batch_spec(
    path: str, allow_outside: bool = False, *, credentials: GypsumCredentials | None = None
) -> tuple[BatchSpec, dict[int, list[SpecProblem]]]:
    """The spec (SpecError if its structure is invalid) and the metadata problems of each asset that has any."""
    fetch = resolve_credentials(credentials).get_client().fetch_metadata_schema
    batch, invalid = load_and_validate(path, fetch_schema=fetch, allow_outside=allow_outside)
    for field, folder in batch.outside:
        get_run_logger().warning("%s: %s is outside the spec's folder (allowed)", field, folder)
    return batch, invalid


def submit_asset(
    job: AssetJob, recover_interrupted_upload: bool, credentials: GypsumCredentials
) -> PrefectFuture[Outcome]:
    """Start one asset's task run: ``publish_folder`` (metadata validated by the batch) or ``publish_clone``.

    Example::

        @flow
        def one(job: AssetJob, credentials: GypsumCredentials) -> Outcome:
            return submit_asset(job, True, credentials).result()
    """
    if job.clone is None:
        validated = job.model_copy(update={"metadata": None})
        return publish_folder.submit(validated, recover_interrupted_upload, credentials=credentials)
    return publish_clone.submit(job, recover_interrupted_upload, credentials=credentials)


def invalid_outcome(job: AssetJob, problems: list[SpecProblem]) -> Outcome:
    """The ``failed`` outcome of an asset whose local metadata is invalid (nothing of it is uploaded).

    Example:
        >>> job = AssetJob(project="p", asset="a", version="v1", directory="/data")
        >>> invalid_outcome(job, [SpecProblem("s.yaml", 3, "assets[0].directory", "bad")]).detail.splitlines()[0]
        'metadata of p/a/v1 failed validation (1 problem); nothing was uploaded:'
    """
    error = metadata_error(job.label, [str(p) for p in problems])
    return failed(job.project, job.asset, job.version, error)


def run_per_project(
    jobs: list[AssetJob], limit: int, submit: Callable[[AssetJob], PrefectFuture[Outcome]]
) -> Iterator[tuple[AssetJob, PrefectFuture[Outcome]]]:
    """Submit ``jobs`` with at most ``limit`` running and one per project; yield each as it finishes.

    Jobs of one project start in list order.
    """
    waiting = list(jobs)
    running: dict[PrefectFuture[Outcome], AssetJob] = {}

    def fill() -> None:
        while len(running) < limit:
            busy = {job.project for job in running.values()}
            ready = next((job for job in waiting if job.project not in busy), None)
            if ready is None:
                return
            waiting.remove(ready)
            running[submit(ready)] = ready

    fill()
    while running:
        done = next(as_completed(list(running)))
        job = running.pop(done)
        fill()  # the next asset starts before the caller reports this one
        yield job, done


def _outcome(job: AssetJob, future: PrefectFuture[Outcome]) -> Outcome:
    """The asset's outcome, or a ``failed`` row carrying the error."""
    result = future.result(raise_on_failure=False)
    if future.state.is_completed() and isinstance(result, Outcome):
        return result
    return failed(
        job.project, job.asset, job.version, result if isinstance(result, BaseException) else GypsumError(str(result))
    )
