"""The example flows of the top-level flows/ folder, each run against the local server as a user would copy it."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

from flows_helpers import create_project, credentials, read_artifacts, requests_matching, subprocess_env, write_asset

from gypsum_flows import client
from gypsum_flows.blocks import GypsumCredentials
from gypsum_flows.flows.report import artifact_key

EXAMPLES = Path(__file__).resolve().parents[2] / "flows"


def example(name: str) -> ModuleType:
    """``flows/<name>.py``, imported from its file as a user's copy would be."""
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _upload(server, folder: Path, project: str, version: str, probation: bool = False) -> None:
    client.upload_directory(
        str(folder), project, "a", version, probation=probation, url=server.url, token=server.tokens["owner"]
    )


def _finished_at(server, project: str, version: str, when: str) -> None:
    """Say in the server's ``..summary`` that ``version`` finished at ``when`` (summaries show whole seconds)."""
    path = server.root / project / "a" / version / "..summary"
    path.write_text(json.dumps({**json.loads(path.read_text()), "upload_finish": when}))


def _entries(server, project: str, version: str) -> dict[str, tuple[int, str]]:
    manifest = client.fetch_manifest(project, "a", version, url=server.url, cache_dir=False)
    return {path: (entry["size"], entry["md5sum"]) for path, entry in manifest.items()}


def test_the_folder_holds_only_these_tested_examples():
    assert sorted(p.name for p in EXAMPLES.iterdir()) == ["mirror_asset.py", "probation_report.py"]


def test_mirror_asset_copies_what_the_target_lacks_in_finishing_order_once(
    gypsum_server, fresh_gypsum_server, unique_name, tmp_path
):
    source, target = fresh_gypsum_server, gypsum_server
    project = unique_name("mirror")
    for server in (source, target):
        create_project(server, project)
    for second, (version, text) in enumerate([("v2", "second"), ("v1", "first"), ("v3", "third")]):
        folder = write_asset(tmp_path / version, {"x.txt": text, "same.txt": "shared"})
        _upload(source, folder, project, version, probation=version == "v3")
        _finished_at(source, project, version, f"2024-05-01T12:00:0{second}.000Z")  # not in name order
    client.start_upload(
        project, "a", "v4", ["x.txt"], directory=str(tmp_path / "v1"), url=source.url, token=source.tokens["owner"]
    )
    mirror = example("mirror_asset").mirror_asset
    from_source = GypsumCredentials(url=source.url, cache_dir=str(tmp_path / "source-cache"))

    copied = mirror(project, "a", from_source, credentials(target))

    assert copied == ["v2", "v1", "v3"]  # the partial v4 is not copied
    assert client.list_versions(project, "a", url=target.url) == ["v1", "v2", "v3"]
    assert all(_entries(target, project, v) == _entries(source, project, v) for v in copied)
    assert client.fetch_summary(project, "a", "v3", url=target.url, cache_dir=False).get("on_probation")
    starts = len(requests_matching(target, "POST", f"/upload/start/{project}/"))
    assert mirror(project, "a", from_source, credentials(target)) == []
    assert len(requests_matching(target, "POST", f"/upload/start/{project}/")) == starts


def test_probation_report_lists_the_versions_waiting_for_an_owner(gypsum_server, unique_name, tmp_path):
    server = gypsum_server
    project = create_project(server, unique_name("waiting"))
    _upload(server, write_asset(tmp_path / "v1", {"x.txt": "1"}), project, "v1")
    _upload(server, write_asset(tmp_path / "v2", {"x.txt": "2"}), project, "v2", probation=True)

    rows = example("probation_report").probation_report(project, GypsumCredentials(url=server.url))

    assert [(r["asset"], r["version"], r["uploader"]) for r in rows] == [("a", "v2", server.logins["owner"])]
    [artifact] = read_artifacts(artifact_key("probation", project))[:1]
    assert "v2" in str(artifact.data) and "v1" not in str(artifact.data)
    run = subprocess.run(
        [sys.executable, str(EXAMPLES / "probation_report.py"), server.url, project],
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.split()[:3] == ["a", "v2", server.logins["owner"]]
