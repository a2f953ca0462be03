"""deployments/prefect.yaml end to end: a real Prefect server, a process worker, ``prefect deployment run --watch``."""

from __future__ import annotations

import json

import requests
from deployments_helpers import BLOCK, RELEASE_SH, SCHEDULED, SPECS, assert_published, prefect_cli, run

from gypsum_flows.batch import load_spec
from gypsum_flows.client import fetch_manifest

#: Every deployment of prefect.yaml, by ``flow/deployment`` name, and its entrypoint.
DEPLOYMENTS = {
    "publish-batch/nightly": "gypsum_flows.flows.publish_batch:publish_batch",
    "publish-asset/default": "gypsum_flows.flows.publish_asset:publish_asset_flow",
    "validate-metadata-then-publish/default": "gypsum_flows.flows.validate_metadata_then_publish:validate_metadata_then_publish",
    "clone-modify-upload/default": "gypsum_flows.flows.clone_modify_upload:clone_modify_upload",
    "approve-probation/default": "gypsum_flows.flows.approve_probation:approve_probation_flow",
}

#: Seconds a watched run may take (worker polling, a fresh flow-run process, the batch itself).
WATCH_TIMEOUT = 300


def watch(deployed, *args: str, env: dict[str, str] | None = None):
    """``prefect deployment run ... --watch --watch-timeout``, as a user would type it."""
    command = prefect_cli("deployment", "run", *args, "--watch", "--watch-timeout", str(WATCH_TIMEOUT))
    return run(command, env or deployed.prefect.env, timeout=WATCH_TIMEOUT + 60)


def test_publish_batch_deployment_run_publishes_the_spec(deployed):
    result = watch(deployed, SCHEDULED)
    assert result.returncode == 0, result.stdout + deployed.worker_log.read_text()[-4000:]
    spec = SPECS / "scrnaseq.yaml"
    assert_published(spec, deployed.gypsum)
    # The clone in the spec sent only its changed file: the others are links to the version it came from.
    clone = next(job for job in load_spec(spec).assets if job.clone is not None)
    manifest = fetch_manifest(clone.project, clone.asset, clone.version, url=deployed.gypsum.url, cache_dir=False)
    assert sorted(path for path, entry in manifest.items() if "link" not in entry) == ["coldata.csv"]
    # The flow run got server and token from the block: neither is in the worker's environment or log.
    assert not [name for name in deployed.prefect.env if name.startswith("GYPSUM_")]
    assert not any(token in deployed.worker_log.read_text() for token in deployed.gypsum.tokens.values())


def test_release_script_publishes_through_the_deployment(deployed):
    spec = SPECS / "reference.yaml"
    env = {
        **deployed.prefect.env,
        "RELEASE_DEPLOYMENT": SCHEDULED,
        "RELEASE_WATCH_TIMEOUT": str(WATCH_TIMEOUT),
        "GYPSUM_CACHE_DIR": str(deployed.cache),
    }
    result = run(["bash", str(RELEASE_SH), str(spec)], env, timeout=WATCH_TIMEOUT + 120)
    assert result.returncode == 0, result.stdout + deployed.worker_log.read_text()[-4000:]
    assert_published(spec, deployed.gypsum)
    # Published through publish-batch/nightly with the spec given as a parameter of that run.
    runs = requests.post(
        deployed.prefect.api_url + "/flow_runs/filter",
        json={
            "deployments": {"id": {"any_": [deployed.prefect.deployment(SCHEDULED)["id"]]}},
            "flow_runs": {"state": {"type": {"any_": ["COMPLETED"]}}},
        },
        timeout=30,
    ).json()
    assert str(spec.resolve()) in [r["parameters"].get("spec") for r in runs]


def test_the_schedule_is_registered(deployed):
    deployment = deployed.prefect.deployment(SCHEDULED)
    [schedule] = deployment["schedules"]
    assert schedule["active"] is True
    assert schedule["schedule"]["cron"] == "0 3 * * *"
    assert schedule["schedule"]["timezone"] == "UTC"
    # The spec the schedule publishes: an absolute path, fixed at deploy time.
    assert deployment["parameters"]["spec"] == str(SPECS / "scrnaseq.yaml")


def test_deployments_depend_on_nothing_but_the_package_and_the_block(deployed):
    tokens = deployed.gypsum.tokens.values()
    for name, entrypoint in DEPLOYMENTS.items():
        deployment = deployed.prefect.deployment(name)
        assert deployment["entrypoint"] == entrypoint
        assert deployment["pull_steps"] == [], f"{name} would depend on the folder it was deployed from"
        assert deployment["enforce_parameter_schema"] is True
        assert deployment["parameters"]["credentials"] == BLOCK
        stored = json.dumps(deployment)
        assert not any(token in stored for token in tokens), f"a token is stored in {name}"


def test_parameters_are_checked_against_the_flow_signature(deployed):
    deployment = deployed.prefect.deployment(SCHEDULED)
    response = requests.post(
        f"{deployed.prefect.api_url}/deployments/{deployment['id']}/create_flow_run",
        json={"parameters": {"spec": ["not", "a", "path"]}},
        timeout=30,
    )
    assert response.status_code == 409, response.text
    assert "spec" in response.text
