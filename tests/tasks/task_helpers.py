"""Helpers for the task tests: folders of files and reads from the Prefect API."""

from __future__ import annotations

import time
from collections.abc import Callable
from uuid import UUID

from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId, LogFilter, LogFilterFlowRunId
from prefect.client.schemas.objects import Log, State, TaskRun
from prefect.exceptions import ObjectNotFound
from prefect.logging.handlers import APILogWorker

#: How long the Prefect API may take to record what a run did.
SETTLE_SECONDS = 30


def _settled(
    read: Callable[[SyncPrefectClient], list[TaskRun]], done: Callable[[list[TaskRun]], bool]
) -> list[TaskRun]:
    """Poll ``read`` until ``done``: the server records task runs from events, a little after they happen."""
    deadline = time.monotonic() + SETTLE_SECONDS
    with get_client(sync_client=True) as prefect:
        while True:
            runs = read(prefect)
            if done(runs):
                return runs
            if time.monotonic() > deadline:
                raise AssertionError(f"the Prefect API did not record the task runs in time: {runs}")
            time.sleep(0.1)


def task_run_of(state: State) -> TaskRun:
    """The task run (as recorded by the Prefect API) behind a task's final state."""
    run_id = state.state_details.task_run_id

    def read(prefect: SyncPrefectClient) -> list[TaskRun]:
        try:
            return [prefect.read_task_run(run_id)]
        except ObjectNotFound:
            return []

    [run] = _settled(read, lambda runs: bool(runs) and runs[0].state is not None and runs[0].state.type == state.type)
    return run


def flow_task_runs(flow_run_id: UUID, count: int) -> list[TaskRun]:
    """The ``count`` task runs of a flow run, once the Prefect API has recorded them all as finished."""
    flt = FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
    return _settled(
        lambda prefect: prefect.read_task_runs(flow_run_filter=flt),
        lambda runs: len(runs) == count and all(run.state is not None and run.state.is_final() for run in runs),
    )


def flow_logs(flow_run_id: UUID) -> list[Log]:
    """Every log line of a flow run (its tasks' included), once sent to the Prefect API."""
    APILogWorker.drain_all(timeout=SETTLE_SECONDS)
    with get_client(sync_client=True) as prefect:
        return prefect.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])))
