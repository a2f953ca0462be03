"""The ``publish-batch`` flow: every asset of a YAML spec, in parallel, each one isolated.

The whole spec (names, folders, duplicates, every local metadata file) is
validated before the first request to the server. Then each asset runs as a
subflow: ``validate-metadata-then-publish`` for a folder,
``clone-modify-upload`` for a clone. Up to ``concurrency`` assets run at once,
but at most one per project: gypsum locks a whole project during an upload,
so assets of one project go one after the other, in the order of the spec
(which also lets a clone build on a version published earlier in the same
spec). A failed asset does not stop the others; the flow ends failed, with the
per-asset report, if any failed. Re-running a spec is safe: published
versions are reported as unchanged, and an upload interrupted by a killed
process is cleared and redone (admin token).

Example::

    from gypsum_flows.flows import publish_batch

    publish_batch("deployments/specs/scrnaseq.yaml", credentials="local-gypsum")
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.futures import PrefectFuture, as_completed
from prefect.task_runners import ThreadPoolTaskRunner

from ..batch.check import check_spec
from ..batch.spec import AssetJob, BatchSpec
from ..blocks import GypsumCredentials
from ..errors import GypsumError
from .checks import published_folder_outcome, resolve_credentials
from .clone_modify_upload import clone_modify_upload
from .report import Outcome, Progress, artifact_key, publish_report
from .validate_publish import validate_metadata_then_publish

#: Assets published at once when neither the caller nor the spec says.
DEFAULT_CONCURRENCY = 4
#: Threads of the batch's task runner: the upper bound of any ``concurrency``.
MAX_CONCURRENCY = 64


class BatchFailedError(GypsumError):
    """Some assets of a batch failed; ``outcomes`` holds every asset's outcome."""

    def __init__(self, spec: str, outcomes: list[Outcome]) -> None:
        self.outcomes = outcomes
        failed = [o for o in outcomes if o.outcome == "failed"]
        lines = "\n".join(f"  {o.label}: {o.detail}" for o in failed)
        super().__init__(f"{len(failed)} of {len(outcomes)} assets of {spec} failed:\n{lines}")


@flow(
    name="publish-batch",
    flow_run_name="publish-batch",
    task_runner=ThreadPoolTaskRunner(max_workers=MAX_CONCURRENCY),
)
def publish_batch(
    spec: str,
    concurrency: int | None = None,
    recover_interrupted_upload: bool = True,
    credentials: GypsumCredentials | str | None = None,
) -> list[Outcome]:
    """Publish every asset of the YAML spec at ``spec`` (a path; relative paths inside it are from its folder).

    Args:
        spec: Path of the YAML spec file.
        concurrency: Assets published at once (default: the spec's ``concurrency``, else 4).
        recover_interrupted_upload: Clear an interrupted upload of a version this batch
            publishes, then publish it again (needs an admin token).
        credentials: A GypsumCredentials block, the name of a saved one, or ``None``
            for the client defaults (GYPSUM_REST_URL, GYPSUM_TOKEN, the cached token).

    Returns:
        One outcome per asset, in spec order.

    Raises:
        SpecError: The spec is invalid (nothing was sent to the server).
        BatchFailedError: Some assets failed; the others were published.
    """
    creds = resolve_credentials(credentials)
    batch = check_batch_spec(spec, credentials=creds)
    limit = max(1, min(concurrency or batch.concurrency or DEFAULT_CONCURRENCY, MAX_CONCURRENCY))
    key = artifact_key("gypsum-batch", batch.path.rsplit("/", 1)[-1].rsplit(".", 1)[0])
    progress = Progress(len(batch.assets), f"{key}-progress", f"Publishing {len(batch.assets)} assets of {spec}")
    results: dict[int, Outcome] = {}

    def submit(job: AssetJob) -> PrefectFuture[Outcome]:
        return publish_asset.submit(job, recover_interrupted_upload, credentials=creds)

    for job, future in run_per_project(batch.assets, limit, submit):
        results[job.spec_index] = _outcome(job, future)
        progress.advance(f"{results[job.spec_index].label}: {results[job.spec_index].outcome}")
    outcomes = [results[i] for i in sorted(results)]
    publish_report(f"Batch {spec}", outcomes, key)
    if any(o.outcome == "failed" for o in outcomes):
        raise BatchFailedError(spec, outcomes)
    return outcomes


@task(name="check_spec", task_run_name="check_spec({path})", cache_policy=NO_CACHE)
def check_batch_spec(path: str, *, credentials: GypsumCredentials | None = None) -> BatchSpec:
    """Validate the spec and every local metadata file it names; raise SpecError with every problem."""
    return check_spec(path, fetch_schema=resolve_credentials(credentials).get_client().fetch_metadata_schema)


@task(name="publish_asset", task_run_name="publish_asset[{job.label}]", cache_policy=NO_CACHE)
def publish_asset(job: AssetJob, recover_interrupted_upload: bool, *, credentials: GypsumCredentials) -> Outcome:
    """Publish one asset of a batch through its subflow (clone-modify-upload or validate-then-publish).

    A folder already published with the same files is reported as unchanged
    without a subflow (the batch checked its metadata already).
    """
    if job.clone is None:
        done = published_folder_outcome(job.directory, job.project, job.asset, job.version, credentials,
                                        recover_interrupted_upload)
        if done is not None:
            return done
    options = {
        "probation": job.probation,
        "deduplicate": job.deduplicate,
        "metadata": job.metadata,
        "recover_interrupted_upload": recover_interrupted_upload,
        "inputs": job.inputs,
        "credentials": credentials,
    }
    if job.clone is not None:
        return clone_modify_upload(
            job.project,
            job.asset,
            job.version,
            source_version=job.clone.version,
            source_project=job.clone.project,
            source_asset=job.clone.asset,
            overlay=job.clone.overlay,
            delete=job.clone.delete,
            **options,
        )
    return validate_metadata_then_publish(job.directory, job.project, job.asset, job.version, **options)


def run_per_project(
    jobs: list[AssetJob], limit: int, submit: Callable[[AssetJob], PrefectFuture[Outcome]]
) -> Iterator[tuple[AssetJob, PrefectFuture[Outcome]]]:
    """Submit ``jobs`` with at most ``limit`` running and one per project; yield each as it finishes.

    Jobs of one project start in list order.
    """
    waiting = list(jobs)
    running: dict[PrefectFuture[Outcome], AssetJob] = {}
    while waiting or running:
        busy = {job.project for job in running.values()}
        ready = next((job for job in waiting if job.project not in busy), None)
        if ready is not None and len(running) < limit:
            waiting.remove(ready)
            running[submit(ready)] = ready
            continue
        done = next(as_completed(list(running)))
        yield running.pop(done), done


def _outcome(job: AssetJob, future: PrefectFuture[Outcome]) -> Outcome:
    """The asset's outcome, or a ``failed`` row carrying the error."""
    result = future.result(raise_on_failure=False)
    if future.state.is_completed() and isinstance(result, Outcome):
        return result
    return Outcome(project=job.project, asset=job.asset, version=job.version, outcome="failed",
                   detail=f"{type(result).__name__}: {result}" if isinstance(result, BaseException) else str(result))
