"""The publication lifecycle on a real ``prefect server start`` with deployments/prefect.yaml deployed and a worker.

Versions are published through the CLI (a flow run outside any deployment); the
deployments' event triggers then start ``index-update`` and ``review-probation``
on the worker. Reviews are resumed through Prefect's REST API, as the UI does.
"""

from __future__ import annotations

import json
import sqlite3
import sys
import time
from pathlib import Path

import pytest
import requests
from deployments_helpers import BLOCK, POOL, create_projects, prefect_cli, run
from testdata import REFERENCE_METADATA, write_files

from gypsum_flows import client
from gypsum_flows.client import search_metadata_text
from gypsum_flows.names import parse_version_asset_key, version_asset_key

#: A shared 2-core machine: the Prefect server's start, the CLI's flow runs and the worker's runs add up.
pytestmark = pytest.mark.timeout(1500)

#: Seconds the acceptance allows between a publication and the index finding it.
INDEX_DEADLINE = 60
#: The review timeout given to review-probation runs in these tests.
REVIEW_TIMEOUT = 90


def post(deployed, path: str, body: dict) -> dict | list:
    """POST to the Prefect API; a 503 or a read timeout (its SQLite database busy under load) is retried for up
    to two minutes."""
    deadline = time.monotonic() + 120
    while True:
        try:
            response = requests.post(deployed.prefect.api_url + path, json=body, timeout=30)
        except requests.Timeout:
            if time.monotonic() > deadline:
                raise
            continue
        if response.status_code != 503 or time.monotonic() > deadline:
            response.raise_for_status()
            return response.json()
        time.sleep(1)


def events(deployed, name: str, prefix: str) -> list[dict]:
    """Events ``name`` on resources whose id starts with ``prefix``."""
    body = {"filter": {"event": {"name": [name]}, "resource": {"id_prefix": [prefix]}}, "limit": 50}
    return post(deployed, "/events/filter", body)["events"]


def wait_for(what: str, check, deadline: float, deployed):
    """Poll ``check()`` until it returns something truthy, or fail after ``deadline`` seconds."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        value = check()
        if value:
            return value
        time.sleep(1)
    raise AssertionError(f"{what} did not happen within {deadline} s:\n{deployed.worker_log.read_text()[-4000:]}")


def publish_with_cli(deployed, spec: Path) -> None:
    """``gypsum-flows publish SPEC`` in its own process, reporting to the Prefect server."""
    env = {
        **deployed.prefect.env,
        "GYPSUM_CACHE_DIR": str(deployed.cache),
        "E2E_TOKEN": deployed.gypsum.tokens["owner"],
    }
    result = run(
        [
            sys.executable,
            "-m",
            "gypsum_flows",
            "publish",
            str(spec),
            "--url",
            deployed.gypsum.url,
            "--token-env",
            "E2E_TOKEN",
        ],
        env,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout


def flow_runs(deployed, deployment: str) -> list[dict]:
    [dep] = [deployed.prefect.deployment(deployment)]
    return post(deployed, "/flow_runs/filter", {"deployments": {"id": {"any_": [dep["id"]]}}})


def review_run(deployed, version: str, state: str) -> dict | None:
    """The review-probation run of ``version`` once it is in state type ``state``."""
    runs = [
        r
        for r in flow_runs(deployed, "review-probation/on-probational-upload")
        if r["parameters"].get("version") == version
    ]
    return next((r for r in runs if r["state_type"] == state), None)


def test_a_cli_publication_is_indexed_and_recorded_as_assets_with_lineage(deployed, tmp_path):
    project = f"life-{int(time.time())}"
    create_projects(deployed.gypsum, [project])
    word = f"marmoset{int(time.time())}"
    write_files(
        tmp_path / "data" / "brain",
        {
            "counts.csv": b"a,b\n1,2\n",
            "_bioconductor.json": json.dumps({**REFERENCE_METADATA, "title": f"Brain of a {word}"}).encode(),
        },
    )
    write_files(tmp_path / "data" / "patch", {"counts.csv": b"a,b\n3,4\n"})
    spec = tmp_path / "batch.yaml"
    spec.write_text(
        f"defaults: {{project: {project}}}\nassets:\n"
        "  - {asset: zeisel brain, version: v1, directory: data/brain}\n"
        "  - {asset: zeisel brain, version: v2, clone: {from: v1, overlay: data/patch}}\n"
    )
    publish_with_cli(deployed, spec)
    published_at = time.monotonic()

    database = deployed.index_dir / "bioconductor.sqlite3"

    def indexed() -> list:
        return database.exists() and search_metadata_text(database, word, include_metadata=False)

    hits = wait_for("the triggered index-update", indexed, INDEX_DEADLINE, deployed)
    assert time.monotonic() - published_at < INDEX_DEADLINE
    assert [(h["project"], h["asset"], h["version"]) for h in hits] == [(project, "zeisel brain", "v2")]
    assert flow_runs(deployed, "index-update/on-lifecycle-events"), "the index was updated by the deployment"

    # Both versions are assets; the clone's upstream is its source; the space survives the key rule.
    source, clone = (version_asset_key(project, "zeisel brain", v) for v in ("v1", "v2"))

    def materialized() -> dict:
        found = events(deployed, "prefect.asset.materialization.succeeded", f"gypsum://{project}/")
        return {e["resource"]["prefect.resource.id"]: e for e in found} if len(found) >= 2 else {}

    made = wait_for("asset events", materialized, 30, deployed)
    assert set(made) == {source, clone}
    upstream = [r["prefect.resource.id"] for r in made[clone]["related"] if r["prefect.resource.role"] == "asset"]
    assert upstream == [source]
    assert parse_version_asset_key(source) == (project, "zeisel brain", "v1")
    assert made[clone]["payload"]["files_uploaded"] == 1 and made[clone]["payload"]["files_linked"] == 1


def test_probational_uploads_are_reviewed_approved_rejected_or_left_pending(deployed, tmp_path):
    dep = deployed.prefect.deployment("review-probation/on-probational-upload")
    response = requests.patch(
        f"{deployed.prefect.api_url}/deployments/{dep['id']}",
        timeout=30,
        json={"parameters": {**dep["parameters"], "timeout": REVIEW_TIMEOUT}},
    )
    response.raise_for_status()
    project = f"review-{int(time.time())}"
    create_projects(deployed.gypsum, [project])
    write_files(tmp_path / "data" / "x", {"a.txt": b"a", "_bioconductor.json": json.dumps(REFERENCE_METADATA).encode()})
    spec = tmp_path / "probation.yaml"
    spec.write_text(
        f"defaults: {{project: {project}, probation: true}}\nassets:\n"
        + "".join(f"  - {{asset: x, version: {v}, directory: data/x}}\n" for v in ("v-ok", "v-no", "v-idle"))
    )
    publish_with_cli(deployed, spec)

    decisions = {"v-ok": "approve", "v-no": "reject"}
    waiting = dict(decisions)

    def resume_paused() -> bool:
        """Resume each review as soon as it pauses (before its timeout runs out)."""
        for version, decision in list(waiting.items()):
            paused = review_run(deployed, version, "PAUSED")
            if paused:
                answer = post(
                    deployed,
                    f"/flow_runs/{paused['id']}/resume",
                    {"run_input": {"decision": decision, "reviewer": "ana", "reason": f"{decision} in the e2e test"}},
                )
                assert answer["status"] == "ACCEPT", answer
                del waiting[version]
        return not waiting

    wait_for("the reviews pausing", resume_paused, 240, deployed)
    wait_for("the idle review pausing", lambda: review_run(deployed, "v-idle", "PAUSED"), 240, deployed)
    for version in decisions:
        wait_for(
            f"review of {version} completing", lambda v=version: review_run(deployed, v, "COMPLETED"), 120, deployed
        )
    summary = client.fetch_summary(project, "x", "v-ok", url=deployed.gypsum.url, cache_dir=False)
    assert "on_probation" not in summary or summary["on_probation"] is False
    assert set(client.list_versions(project, "x", url=deployed.gypsum.url)) == {"v-ok", "v-idle"}
    # The API records events after the run that emitted them has finished: wait for it.
    [rejected] = wait_for(
        "the rejection event",
        lambda: events(deployed, "gypsum.version.rejected", f"gypsum.version.{project}/x/v-no"),
        60,
        deployed,
    )
    assert rejected["payload"]["flow_run_id"]
    failed = wait_for(
        "the idle review timing out", lambda: review_run(deployed, "v-idle", "FAILED"), REVIEW_TIMEOUT + 60, deployed
    )
    assert failed["state_type"] == "FAILED"
    idle = client.fetch_summary(project, "x", "v-idle", url=deployed.gypsum.url, cache_dir=False)
    assert idle["on_probation"] is True


HELLO = """
from pathlib import Path

from prefect import flow
from prefect.artifacts import create_markdown_artifact


@flow(name="hello-from-gypsum")
def hello() -> str:
    text = Path("greeting.txt").read_text()
    create_markdown_artifact(text, key="hello-from-gypsum")
    return text
"""


def test_a_deployment_runs_a_flow_file_pulled_from_a_published_version(deployed, tmp_path):
    project = f"code-{int(time.time())}"
    create_projects(deployed.gypsum, [project])
    greeting = f"hello from {project}"
    code = write_files(tmp_path / "code", {"hello.py": HELLO.encode(), "greeting.txt": greeting.encode()})
    client.upload_directory(
        str(code), project, "hello", "v1", url=deployed.gypsum.url, token=deployed.gypsum.tokens["owner"]
    )
    # Deployed from a folder holding only the flow file (prefect deploy reads its parameters);
    # greeting.txt exists only in the published version.
    here = write_files(tmp_path / "deploy", {"hello.py": HELLO.encode()})
    (here / "prefect.yaml").write_text(
        "name: from-gypsum\nprefect-version: 3.9.1\nbuild: null\npush: null\npull:\n"
        "  - gypsum_flows.deployments.steps.pull_version:\n"
        f"      project: {project}\n      asset: hello\n      version: v1\n      credentials: {BLOCK}\n"
        "deployments:\n  - name: pulled\n    entrypoint: hello.py:hello\n"
        f"    work_pool: {{name: {POOL}}}\n"
    )
    result = run(prefect_cli("--no-prompt", "deploy", "--all"), deployed.prefect.env, cwd=here)
    assert result.returncode == 0, result.stdout
    watched = run(
        prefect_cli("deployment", "run", "hello-from-gypsum/pulled", "--watch", "--watch-timeout", "300"),
        deployed.prefect.env,
        timeout=360,
    )
    assert watched.returncode == 0, watched.stdout + deployed.worker_log.read_text()[-4000:]
    [artifact] = post(deployed, "/artifacts/filter", {"artifacts": {"key": {"any_": ["hello-from-gypsum"]}}})
    assert artifact["data"] == greeting
    [dep] = [deployed.prefect.deployment("hello-from-gypsum/pulled")]
    assert list(dep["pull_steps"][0]) == ["gypsum_flows.deployments.steps.pull_version"]


def test_no_token_is_stored_in_the_prefect_database(deployed):
    """Events, assets, artifacts, run parameters, logs: every table but the (encrypted) block documents."""
    tokens = list(deployed.gypsum.tokens.values())
    database = sqlite3.connect(f"file:{deployed.prefect.home / 'prefect.db'}?mode=ro", uri=True)
    tables = [name for (name,) in database.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    assert {"events", "artifact", "flow_run", "deployment", "log"} <= set(tables)
    leaks = []
    for table in tables:
        if table.startswith("block_document"):
            continue
        for row in database.execute(f'SELECT * FROM "{table}"'):
            text = " ".join(str(value) for value in row)
            leaks += [table for token in tokens if token in text]
    assert not leaks, f"a token is stored in {sorted(set(leaks))}"
    found = database.execute("SELECT count(*) FROM events WHERE event LIKE 'gypsum.%' OR event LIKE 'prefect.asset.%'")
    assert found.fetchone()[0] > 0, "the search covered the lifecycle events"
