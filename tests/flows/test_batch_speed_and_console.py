"""publish-batch as cheap task runs (one named run per asset), and what the console shows when things fail."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from flows_helpers import create_project, credentials, read_artifacts, write_asset

from gypsum_flows.cli import main
from gypsum_flows.flows import publish_batch
from gypsum_flows.flows.report import artifact_key


def spec_of(folder: Path, project: str, names: list[str], version: str = "v1") -> Path:
    lines = ["concurrency: 4", "assets:"]
    for name in names:
        write_asset(folder / name, {"values.csv": f"x\n{name}\n"})
        lines.append(f"  - {{project: {project}, asset: {name}, version: {version}, directory: {name}}}")
    spec = folder / "spec.yaml"
    spec.write_text("\n".join(lines) + "\n")
    return spec


def task_run_names_of(flow_run_id, wanted: set[str], timeout: float = 60.0) -> set[str]:
    """The task run names of a flow run, once ``wanted`` are all recorded (the API records them from events)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    deadline = time.monotonic() + timeout
    with get_client(sync_client=True) as client:
        while True:
            runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
            names = {run.name for run in runs}
            if wanted <= names or time.monotonic() > deadline:
                return names
            time.sleep(0.5)


def test_batch_of_24_is_one_flow_run_with_one_named_task_run_per_asset(gypsum_server, unique_name, tmp_path):
    projects = [create_project(gypsum_server, unique_name(f"many{i}")) for i in range(3)]
    names = [f"a{i:02d}" for i in range(24)]
    lines = ["concurrency: 4", "assets:"]
    for i, name in enumerate(names):
        write_asset(tmp_path / name, {"values.csv": f"x\n{i}\n"})
        lines.append(f"  - {{project: {projects[i % 3]}, asset: {name}, version: v1, directory: {name}}}")
    (tmp_path / "many.yaml").write_text("\n".join(lines) + "\n")

    state = publish_batch(str(tmp_path / "many.yaml"), credentials=credentials(gypsum_server), return_state=True)
    outcomes = state.result()
    assert [o.outcome for o in outcomes] == ["published"] * 24

    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        flow_run = client.read_flow_run(state.state_details.flow_run_id)
        children = client.read_flow_runs(flow_run_filter=_children_of(flow_run.id))
    assert children == []  # no subflow per asset
    wanted = {f"publish {projects[i % 3]}/{name}/v1" for i, name in enumerate(names)}
    assert wanted <= task_run_names_of(flow_run.id, wanted)
    for i, name in enumerate(names):  # the per-asset report
        table = next(
            a for a in read_artifacts(artifact_key("gypsum-publish", projects[i % 3], name)) if a.type == "table"
        )
        rows = json.loads(table.data) if isinstance(table.data, str) else table.data
        assert rows[0]["outcome"] == "published" and rows[0]["asset"] == name
    batch_table = next(a for a in read_artifacts(artifact_key("gypsum-batch", "many")) if a.type == "table")
    assert len(json.loads(batch_table.data) if isinstance(batch_table.data, str) else batch_table.data) == 24


def _children_of(flow_run_id):
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterParentFlowRunId

    return FlowRunFilter(parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[flow_run_id]))


def _cli(args: list[str], **env: str) -> subprocess.CompletedProcess:
    """``python -m gypsum_flows ARGS`` as a user runs it, stdout and stderr merged."""
    full = {**os.environ, **env}
    return subprocess.run(
        [sys.executable, "-m", "gypsum_flows", *args],
        env=full,
        text=True,
        timeout=600,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        check=False,
    )


def test_failing_batch_prints_no_traceback_and_few_lines(gypsum_server, unique_name, tmp_path):
    from prefect.settings import PREFECT_API_URL

    # The project exists (a missing one stops publish before the batch starts), but the token may not upload to it.
    project = create_project(gypsum_server, unique_name("denied"))
    spec = spec_of(tmp_path, project, ["a", "b", "c"])
    done = _cli(
        ["publish", str(spec), "--url", gypsum_server.url, "--token-env", "T"],
        T=gypsum_server.tokens["stranger"],
        PREFECT_API_URL=PREFECT_API_URL.value(),
    )
    lines = done.stdout.splitlines()
    assert done.returncode == 1, done.stdout
    assert "Traceback" not in done.stdout
    assert len(lines) < 40, done.stdout
    assert sum(" failed " in line for line in lines) >= 3, done.stdout
    assert "hint: " in done.stdout, done.stdout


def test_publish_with_the_prefect_api_unreachable_says_so_in_a_few_lines(gypsum_server, unique_name, tmp_path):
    spec = spec_of(tmp_path, create_project(gypsum_server, unique_name("noapi")), ["a"])
    done = _cli(["publish", str(spec), "--url", gypsum_server.url], PREFECT_API_URL="http://127.0.0.1:9/api")
    assert done.returncode == 1
    assert "Traceback" not in done.stdout and len(done.stdout.splitlines()) <= 3, done.stdout
    assert "Failed to reach API" in done.stdout and "PREFECT_API_URL" in done.stdout


def test_check_needs_no_prefect(gypsum_server, unique_name, tmp_path):
    spec = spec_of(tmp_path, unique_name("chk"), ["a", "b"])
    probe = (
        "import sys; from gypsum_flows.cli import main; rc = main(['check', sys.argv[1]]); "
        "assert not [m for m in sys.modules if m.split('.')[0] == 'prefect'], 'prefect imported'; sys.exit(rc)"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, str(spec)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PREFECT_API_URL": "http://127.0.0.1:9/api"},
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "OK, 2 assets" in done.stdout


class _Unavailable(BaseHTTPRequestHandler):
    """A schema host that is down: every request gets 503."""

    hits = 0

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        type(self).hits += 1
        self.send_response(503)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


def test_offline_check_of_2000_assets_asks_the_schema_host_once(tmp_path, monkeypatch, capsys):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Unavailable)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("GYPSUM_SCHEMA_URL", f"http://127.0.0.1:{server.server_port}/")
    monkeypatch.setenv("GYPSUM_CACHE_DIR", str(tmp_path / "empty-cache"))
    write_asset(tmp_path / "data", {"values.csv": "1"})
    body = "".join(f"  - {{asset: a{i}, version: v1, directory: data}}\n" for i in range(2000))
    (tmp_path / "big.yaml").write_text(f"defaults: {{project: p}}\nassets:\n{body}")
    try:
        start = time.monotonic()
        assert main(["check", str(tmp_path / "big.yaml")]) == 0
        elapsed = time.monotonic() - start
    finally:
        server.shutdown()
    captured = capsys.readouterr()
    assert "OK, 2000 assets" in captured.out
    assert _Unavailable.hits <= 3  # one fetch and its retries, for the whole spec
    assert elapsed < 60, elapsed  # about 3 s on a quiet 2-core machine; generous for a loaded one


@pytest.mark.parametrize("where", ["before", "after"])
def test_traceback_flag_before_or_after_the_command(tmp_path, where):
    spec = tmp_path / "absent.yaml"
    args = ["--traceback", "check", str(spec)] if where == "before" else ["check", str(spec), "--traceback"]
    with pytest.raises(Exception, match="cannot read the spec"):
        main(args)
    assert main(["check", str(spec)]) == 1
