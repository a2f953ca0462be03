"""Helpers for the task tests: folders of files and reads from the Prefect API."""

from __future__ import annotations

from pathlib import Path
from uuid import UUID

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId, LogFilter, LogFilterFlowRunId
from prefect.client.schemas.objects import Log, State, TaskRun


def write_files(folder: Path, files: dict[str, bytes]) -> Path:
    """Create ``folder`` holding ``files`` (relative path -> content)."""
    for rel, content in files.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return folder


def task_run_of(state: State) -> TaskRun:
    """The task run (as stored by the Prefect API) behind a task's final state."""
    with get_client(sync_client=True) as prefect:
        return prefect.read_task_run(state.state_details.task_run_id)


def flow_task_runs(flow_run_id: UUID) -> list[TaskRun]:
    """Every task run of a flow run, from the Prefect API."""
    with get_client(sync_client=True) as prefect:
        return prefect.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))


def flow_logs(flow_run_id: UUID) -> list[Log]:
    """Every log line of a flow run (its tasks' included), from the Prefect API."""
    with get_client(sync_client=True) as prefect:
        return prefect.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])))
