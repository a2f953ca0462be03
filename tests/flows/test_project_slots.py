"""Per-project Prefect slots and the fan-out plumbing, on the session's real Prefect server.

The multi-worker behaviour itself is in tests/scale.
"""

from __future__ import annotations

import sys
import threading
import uuid

import pytest
from flows_helpers import create_project, credentials, write_asset
from polling import wait_until
from prefect import get_client
from prefect.client.schemas.objects import FlowRun
from prefect.concurrency.sync import concurrency
from prefect.states import Completed, Crashed

from gypsum_flows.batch import load_spec
from gypsum_flows.batch.spec import AssetJob
from gypsum_flows.blocks import GypsumCredentials
from gypsum_flows.cli import main
from gypsum_flows.errors import FanOutCredentialsError, GypsumSpecError
from gypsum_flows.flows import publish_batch
from gypsum_flows.flows.fan_out import credentials_name, run_outcome
from gypsum_flows.flows.project_slots import project_slot, slot_name
from gypsum_flows.flows.publish_asset import find_job, publish_asset_flow
from gypsum_flows.flows.report import Outcome


def active_slots(project: str) -> int:
    with get_client(sync_client=True) as client:
        limit = client.read_global_concurrency_limit_by_name(slot_name(project))
    assert limit.limit == 1
    return limit.active_slots


def asking_for_a_slot(thread: threading.Thread) -> bool:
    """Whether ``thread`` is entering ``concurrency(...)``: asking for a slot, or told to wait and asking again."""
    frame = sys._current_frames().get(thread.ident)
    while frame is not None and frame.f_code is not concurrency.__wrapped__.__code__:
        frame = frame.f_back
    return frame is not None


def test_a_slot_is_created_on_demand_held_once_and_released(unique_name):
    project = unique_name("slot")
    order: list[str] = []
    inside = threading.Event()

    def other() -> None:
        inside.wait(60)
        with project_slot(project, required=True):
            order.append("other")

    thread = threading.Thread(target=other)
    thread.start()
    with project_slot(project, required=True):
        assert active_slots(project) == 1
        with project_slot(project, required=True):  # re-entrant: a nested publishing flow does not wait for itself
            inside.set()
            wait_until(lambda: asking_for_a_slot(thread), "the other thread to ask for the slot")
            order.append("first")
    thread.join(120)
    assert order == ["first", "other"]
    assert active_slots(project) == 0


def test_slot_names_are_safe_for_prefect():
    assert slot_name("scrnaseq") == "gypsum-project-scrnaseq"
    assert slot_name("a/b") != slot_name("a%b") and "/" not in slot_name("a/b")


def test_publish_asset_publishes_one_asset_of_a_spec_and_reports_it_in_its_state(gypsum_server, unique_name, tmp_path):
    project = create_project(gypsum_server, unique_name("one"))
    write_asset(tmp_path / "a", {"x.txt": "1"}, metadata=None)
    write_asset(tmp_path / "b", {"y.txt": "2"}, metadata=None)
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        f"defaults: {{project: {project}, metadata: null}}\nassets:\n"
        "  - {asset: a, version: v1, directory: a}\n  - {asset: b, version: v1, directory: b}\n"
    )
    creds = credentials(gypsum_server, "owner")
    creds.save(f"slots-{project}", overwrite=True)

    state = publish_asset_flow(str(spec), project, "b", "v1", credentials=f"slots-{project}", return_state=True)

    outcome = Outcome.model_validate_json(state.message)
    assert (outcome.asset, outcome.outcome, outcome.files_uploaded) == ("b", "published", 1)
    assert state.result() == outcome
    assert gypsum_server.handle.lock_history[-2][1:] == ("locked", project, "b", "v1")
    assert active_slots(project) == 0
    with pytest.raises(GypsumSpecError, match="no asset .*/b/v2 in this spec"):
        find_job(str(spec), project, "b", "v2")


def test_fan_out_refuses_credentials_a_worker_cannot_load(gypsum_server, unique_name, tmp_path, capsys):
    project = create_project(gypsum_server, unique_name("fo"))
    write_asset(tmp_path / "a", {"x.txt": "1"}, metadata=None)
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        f"fan_out: true\nassets:\n  - {{project: {project}, asset: a, version: v1, directory: a, metadata: null}}\n"
    )
    assert load_spec(spec).fan_out is True

    with pytest.raises(FanOutCredentialsError, match="save the GypsumCredentials block"):
        publish_batch(str(spec), credentials=credentials(gypsum_server, "owner"))
    assert main(["publish", str(spec), "--url", gypsum_server.url]) != 0
    assert "--credentials-block" in capsys.readouterr().err
    assert [e for e in gypsum_server.handle.lock_history if e[2] == project] == []  # nothing was uploaded


def test_credentials_travel_by_name_only(gypsum_server):
    saved = GypsumCredentials(url=gypsum_server.url)
    saved.save("fan-out-name-test", overwrite=True)
    assert credentials_name(GypsumCredentials.load("fan-out-name-test")) == "fan-out-name-test"
    assert credentials_name(GypsumCredentials()) is None
    with pytest.raises(FanOutCredentialsError):
        credentials_name(GypsumCredentials(url=gypsum_server.url, token="t"))


def test_a_run_without_an_outcome_is_a_failed_row():
    job = AssetJob(project="p", asset="a", version="v1", directory="/data")
    published = Outcome(project="p", asset="a", version="v1", outcome="published", files_uploaded=3)
    done = FlowRun(flow_id=uuid.uuid4(), name="ok", state=Completed(message=published.model_dump_json()))
    assert run_outcome(job, done) == published
    crashed = run_outcome(job, FlowRun(flow_id=uuid.uuid4(), name="gone", state=Crashed(message="worker died")))
    assert (crashed.outcome, crashed.detail) == ("failed", "publish-asset run gone ended Crashed: worker died")
