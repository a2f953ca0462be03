"""What deployments/prefect.yaml and the CI recipe say, checked against the code they name (no server needed)."""

from __future__ import annotations

import inspect
import os
from pathlib import Path

import yaml
from deployments_helpers import BLOCK, POOL, PREFECT_YAML, RELEASE_SH, REPO, SPECS
from prefect import Flow
from prefect.events.schemas.deployment_triggers import DeploymentEventTrigger
from prefect.utilities.importtools import import_object

RELEASE_YML = REPO / "deployments" / "ci" / "release.yml"


def deployments() -> list[dict]:
    return yaml.safe_load(PREFECT_YAML.read_text())["deployments"]


def test_nothing_is_pulled_from_the_deploying_folder():
    config = yaml.safe_load(PREFECT_YAML.read_text())
    assert config["pull"] == []
    assert all("pull" not in d for d in deployments())


def test_every_deployment_names_a_packaged_flow_and_only_its_parameters():
    names = set()
    for deployment in deployments():
        module, _, function = deployment["entrypoint"].partition(":")
        assert module.startswith("gypsum_flows.flows."), "entrypoints are module paths, not files"
        flow = import_object(deployment["entrypoint"])
        assert isinstance(flow, Flow)
        names.add(flow.name)
        accepted = set(inspect.signature(flow.fn).parameters)
        assert set(deployment["parameters"]) <= accepted, deployment["entrypoint"]
        assert deployment["enforce_parameter_schema"] is True
        assert deployment["work_pool"]["name"] == POOL
    assert names == {
        "publish-batch",
        "publish-asset",
        "validate-metadata-then-publish",
        "clone-modify-upload",
        "approve-probation",
        "index-update",
        "review-probation",
    }


def test_credentials_are_a_block_name_never_a_secret():
    for deployment in deployments():
        assert deployment["parameters"]["credentials"] == BLOCK
    text = PREFECT_YAML.read_text()
    assert "token:" not in text and "prefect.blocks." not in text  # a block template would be inlined at deploy time


def test_publish_batch_is_scheduled_with_a_spec_set_at_deploy_time():
    [batch] = [d for d in deployments() if d["entrypoint"].endswith(":publish_batch")]
    assert batch["parameters"]["spec"] == "{{ $GYPSUM_FLOWS_SPEC }}"
    [schedule] = batch["schedules"]
    assert schedule["cron"] and schedule["active"] is True


def test_the_release_workflow_runs_the_release_script_on_version_tags():
    workflow = yaml.safe_load(RELEASE_YML.read_text())
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as true
    assert triggers["push"]["tags"] == ["v*"]
    [job] = workflow["jobs"].values()
    [step] = [s for s in job["steps"] if "deployments/ci/release.sh" in s.get("run", "")]
    assert step["env"]["GYPSUM_TOKEN"] == "${{ secrets.GYPSUM_TOKEN }}"
    assert os.access(RELEASE_SH, os.X_OK)


def test_the_example_specs_ship_inside_the_package():
    assert SPECS.resolve() == (REPO / "gypsum_flows" / "examples").resolve()
    from gypsum_flows.cli.demo import example_specs

    assert [p.name for p in example_specs()] == sorted(p.name for p in SPECS.glob("*.yaml"))
    assert all(Path(p).is_file() for p in example_specs())


def test_triggers_react_to_gypsum_events_and_fill_only_real_parameters():
    triggered = {d["entrypoint"].rpartition(":")[2]: d for d in deployments() if d.get("triggers")}
    assert set(triggered) == {"index_update", "review_probation"}
    [index] = triggered["index_update"]["triggers"]
    assert set(index["expect"]) == {
        "gypsum.version.published",
        "gypsum.version.approved",
        "gypsum.version.removed",
        "gypsum.asset.removed",
        "gypsum.project.removed",
    }
    assert triggered["index_update"]["schedules"], "a schedule backs the triggers up"
    window = DeploymentEventTrigger.model_validate(index)
    assert window.within.total_seconds() > 0, "a burst of events starts one run, not one each"
    assert window.schedule_after >= window.within, "the run starts after every event of its window"
    [review] = triggered["review_probation"]["triggers"]
    assert review["expect"] == ["gypsum.version.published"] and review["match"]["gypsum.probation"] == "true"
    flow = import_object(triggered["review_probation"]["entrypoint"])
    assert set(review["parameters"]) == {"project", "asset", "version"} <= set(inspect.signature(flow.fn).parameters)
