"""publish-batch and the publish/check CLI against the local server on a real Prefect."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
from flows_helpers import (
    BROKEN_METADATA,
    MALFORMED,
    age_lock,
    big_asset_spec,
    create_project,
    credentials,
    json_outcomes,
    publish_command,
    read_artifacts,
    requests_matching,
    subprocess_env,
    wait_for_events,
    write_asset,
)

from gypsum_flows import client
from gypsum_flows.batch import SpecError
from gypsum_flows.cli import main
from gypsum_flows.errors import InterruptedUploadError
from gypsum_flows.flows import BatchFailedError, publish_batch, validate_metadata_then_publish
from gypsum_flows.flows.idempotency import folder_entries
from gypsum_flows.flows.report import artifact_key
from gypsum_flows.recover import read_lock


def ten_asset_spec(folder: Path, projects: list[str], missing_project: str) -> Path:
    """Nine good assets over ``projects`` (one of them a clone) and one in a project that does not exist."""
    lines = ["concurrency: 6", "assets:"]
    for i in range(8):
        project = projects[i % len(projects)]
        write_asset(folder / "data" / f"a{i}", {"values.csv": f"x\n{i}\n", f"part/{i}.txt": "same" * 10})
        lines.append(f"  - {{project: {project}, asset: a{i}, version: v1, directory: data/a{i}}}")
    write_asset(folder / "data" / "patch", {"values.csv": "x\npatched\n"}, metadata=None)
    lines.append(f"  - {{project: {projects[0]}, asset: a0, version: v2, clone: {{overlay: data/patch}}}}")
    lines.append(f"  - {{project: {missing_project}, asset: lost, version: v1, directory: data/a1}}")
    spec = folder / "batch.yaml"
    spec.write_text("\n".join(lines) + "\n")
    return spec


def test_batch_of_ten_with_one_broken_then_rerun_is_unchanged(fresh_gypsum_server, unique_name, tmp_path):
    server = fresh_gypsum_server
    projects = [create_project(server, unique_name("bt")) for _ in range(5)]
    spec = ten_asset_spec(tmp_path, projects, missing_project=unique_name("missing"))

    with pytest.raises(BatchFailedError) as caught:
        publish_batch(str(spec), credentials=credentials(server, "admin"))

    outcomes = caught.value.outcomes
    assert len(outcomes) == 10
    assert [o.outcome for o in outcomes].count("published") == 9
    assert outcomes[-1].outcome == "failed" and "lost" in outcomes[-1].label and outcomes[-1].detail
    assert "1 of 10 assets" in str(caught.value) and outcomes[-1].label in str(caught.value)
    for o in outcomes[:8]:
        assert client.fetch_summary(o.project, o.asset, "v1", url=server.url, cache_dir=False)["upload_finish"]
    clone = outcomes[8]
    assert (clone.version, clone.files_uploaded, clone.files_linked) == ("v2", 1, 2)
    key = artifact_key("gypsum-batch", "batch")
    table = next(a for a in read_artifacts(key) if a.type == "table")
    rows = json.loads(table.data) if isinstance(table.data, str) else table.data
    assert len(rows) == 10 and sorted({r["outcome"] for r in rows}) == ["failed", "published"]
    progress = read_artifacts(f"{key}-progress")
    assert progress and float(progress[0].data) == 100.0
    for project in projects:
        expected = sorted(f"gypsum.version.{o.label}" for o in outcomes if o.project == project)
        events = wait_for_events("gypsum.version.published", f"gypsum.version.{project}/", len(expected))
        assert sorted(e.resource.id for e in events) == expected

    puts = len(requests_matching(server, "PUT", ""))
    starts = [p for p in requests_matching(server, "POST", "/upload/start/") if "/lost/" not in p]
    with pytest.raises(BatchFailedError) as again:
        publish_batch(str(spec), credentials=credentials(server, "admin"))
    assert [o.outcome for o in again.value.outcomes] == ["unchanged"] * 9 + ["failed"]
    assert len(requests_matching(server, "PUT", "")) == puts
    assert [p for p in requests_matching(server, "POST", "/upload/start/") if "/lost/" not in p] == starts


def test_invalid_metadata_fails_its_asset_before_any_request(fresh_gypsum_server, tmp_path):
    write_asset(tmp_path / "bad", {"x": "1"}, metadata=BROKEN_METADATA)
    spec = tmp_path / "s.yaml"
    spec.write_text("defaults: {project: p}\nassets:\n  - {asset: a, version: v1, directory: bad}\n")
    with pytest.raises(BatchFailedError, match=r"p/a/v1: metadata of p/a/v1 failed validation") as caught:
        publish_batch(str(spec), credentials=credentials(fresh_gypsum_server))
    [outcome] = caught.value.outcomes
    assert outcome.outcome == "failed" and "s.yaml:3: assets[0].directory" in outcome.detail
    assert "bioconductor_version" in outcome.detail and "gypsum-flows check" in outcome.hint
    with pytest.raises(SpecError, match=r"s.yaml:3: assets\[0\].directory: .*bioconductor_version"):
        publish_batch(str(spec), credentials=credentials(fresh_gypsum_server), strict=True)
    assert fresh_gypsum_server.request_log == []


def test_one_invalid_asset_the_others_are_published_unless_strict(gypsum_server, unique_name, tmp_path, capsys):
    project = create_project(gypsum_server, unique_name("iso"))
    for name in ("good1", "good2"):
        write_asset(tmp_path / name, {"x.txt": name})
    write_asset(tmp_path / "bad", {"x.txt": "bad"}, metadata=BROKEN_METADATA)
    body = "".join(f"  - {{asset: {n}, version: v1, directory: {n}}}\n" for n in ("good1", "bad", "good2"))
    strict = tmp_path / "strict.yaml"
    strict.write_text(f"strict: true\ndefaults: {{project: {project}}}\nassets:\n{body}")
    lenient = tmp_path / "lenient.yaml"
    lenient.write_text(f"defaults: {{project: {project}}}\nassets:\n{body}")
    args = ["--url", gypsum_server.url, "--token-env", "ISO_TOKEN"]
    os.environ["ISO_TOKEN"] = gypsum_server.tokens["owner"]
    try:
        assert main(["publish", str(lenient), *args, "--strict"]) == 1
        assert main(["publish", str(strict), *args]) == 1
        assert "bioconductor_version" in capsys.readouterr().err
        assert client.list_assets(project, url=gypsum_server.url) == []  # strict: nothing published

        assert main(["publish", str(lenient), *args]) == 1
    finally:
        del os.environ["ISO_TOKEN"]
    out = capsys.readouterr().out
    assert re.search(rf"^{project}/good1/v1\s+published", out, re.MULTILINE) and re.search(
        rf"^{project}/bad/v1\s+failed", out, re.MULTILINE
    )
    assert "hint: fix the metadata file" in out
    assert sorted(client.list_assets(project, url=gypsum_server.url)) == ["good1", "good2"]


def test_cli_malformed_specs_reach_nothing(fresh_gypsum_server, tmp_path, capsys):
    write_asset(tmp_path / "data" / "ok", {"counts.csv": "1"})
    write_asset(tmp_path / "data" / "bad", {"counts.csv": "1"}, metadata=BROKEN_METADATA)
    write_asset(tmp_path / "data" / "bare", {"counts.csv": "1"}, metadata=None)
    for case, (text, line, field, _words) in sorted(MALFORMED.items()):
        spec = tmp_path / f"{case}.yaml"
        spec.write_text(text)
        for command in (["check", str(spec)], ["publish", str(spec), "--url", fresh_gypsum_server.url, "--strict"]):
            assert main(command) == 1, (case, command)
            err = capsys.readouterr().err
            assert (f"{spec}:{line}: {field}" if line else str(spec)) in err, (case, command, err)
    assert fresh_gypsum_server.request_log == []


def test_cli_check_and_publish(gypsum_server, unique_name, tmp_path, capsys, monkeypatch):
    project = create_project(gypsum_server, unique_name("cli"))
    write_asset(tmp_path / "data", {"counts.csv": "1,2"})
    spec = tmp_path / "one.yaml"
    spec.write_text(f"assets:\n  - {{project: {project}, asset: a, version: v1, directory: data}}\n")
    assert main(["check", str(spec)]) == 0
    assert f"{project}/a/v1" in capsys.readouterr().out

    monkeypatch.setenv("MY_UPLOAD_TOKEN", gypsum_server.tokens["owner"])
    assert main(["publish", str(spec), "--url", gypsum_server.url, "--token-env", "MY_UPLOAD_TOKEN", "--json"]) == 0
    assert [o["outcome"] for o in json.loads(capsys.readouterr().out)] == ["published"]
    assert main(["publish", str(spec), "--url", gypsum_server.url, "--token-env", "MY_UPLOAD_TOKEN"]) == 0
    assert "1 unchanged" in capsys.readouterr().out
    monkeypatch.delenv("MY_UPLOAD_TOKEN")
    assert main(["publish", str(spec), "--url", gypsum_server.url, "--token-env", "MY_UPLOAD_TOKEN"]) == 1
    assert "MY_UPLOAD_TOKEN" in capsys.readouterr().err


def test_interrupted_upload_needs_admin_to_recover(gypsum_server, unique_name, asset_folder):
    project = create_project(gypsum_server, unique_name("intr"))
    folder = asset_folder("v1", {"x.txt": "1"})
    client.start_upload(
        project,
        "a",
        "v1",
        ["x.txt", "_bioconductor.json"],
        directory=str(folder),
        url=gypsum_server.url,
        token=gypsum_server.tokens["owner"],
    )  # never completed
    age_lock(gypsum_server, project, 3600)  # stale by recover's rule (a younger one would be waited for)

    with pytest.raises(InterruptedUploadError, match="gypsum-flows recover"):
        validate_metadata_then_publish(str(folder), project, "a", "v1", credentials=credentials(gypsum_server))
    outcome = validate_metadata_then_publish(
        str(folder), project, "a", "v1", credentials=credentials(gypsum_server, "admin")
    )
    assert outcome.outcome == "published"
    assert read_lock(project, url=gypsum_server.url) is None


def test_killed_batch_then_rerun_completes_everything(fresh_gypsum_server, unique_name, tmp_path):
    server = fresh_gypsum_server
    projects = [create_project(server, unique_name("kill")) for _ in range(2)]
    spec = big_asset_spec(tmp_path, projects, 6, megabytes=12)
    command = publish_command(spec, server.url)
    env = subprocess_env(PUBLISH_TOKEN=server.tokens["admin"])

    with open(tmp_path / "first.log", "wb") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        _wait_for_second_upload(server, process)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    locked = [p for p in projects if read_lock(p, url=server.url) is not None]
    assert locked, "the kill should have interrupted an upload"
    for project in locked:
        age_lock(server, project, 3600)  # stale by recover's rule (a younger one would be waited for)

    rerun = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-3000:]
    outcomes = [o["outcome"] for o in json_outcomes(rerun.stdout)]
    assert len(outcomes) == 6 and set(outcomes) <= {"published", "unchanged"}
    for i in range(6):
        project = projects[i % 2]
        assert client.list_versions(project, f"a{i}", url=server.url) == ["v1"]
        summary = client.fetch_summary(project, f"a{i}", "v1", url=server.url, cache_dir=False)
        assert summary.get("upload_finish") and not summary.get("on_probation")
        manifest = client.fetch_manifest(project, f"a{i}", "v1", url=server.url, cache_dir=False)
        local = folder_entries(tmp_path / "data" / f"a{i}")
        assert {p: (e["size"], e["md5sum"]) for p, e in manifest.items()} == local
    assert all(read_lock(p, url=server.url) is None for p in projects)


def _wait_for_second_upload(server, process: subprocess.Popen, timeout: float = 120.0) -> None:
    """Return as soon as a second upload session was opened (the first one finished, another is running)."""
    deadline = time.monotonic() + timeout
    while len(requests_matching(server, "POST", "/upload/start/")) < 2:
        assert process.poll() is None, "the batch ended before it could be interrupted"
        assert time.monotonic() < deadline, "no upload started in time"
        time.sleep(0.005)
