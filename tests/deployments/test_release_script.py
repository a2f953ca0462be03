"""deployments/ci/release.sh run locally against the local gypsum server, as CI runs it against the real one."""

from __future__ import annotations

import json
import shutil

from deployments_helpers import RELEASE_SH, SPECS, assert_published, clean_env, create_projects, example_projects, run

from gypsum_flows.batch import load_spec


def release_env(server, cache, **extra: str) -> dict[str, str]:
    """The environment CI gives the script: server URL and token (a secret) as variables."""
    return clean_env(
        GYPSUM_REST_URL=server.url, GYPSUM_TOKEN=server.tokens["owner"], GYPSUM_CACHE_DIR=str(cache), **extra
    )


def test_release_validates_then_publishes_every_spec(fresh_gypsum_server, offline_cache, prefect_server):
    create_projects(fresh_gypsum_server, example_projects())
    # Flow runs are recorded on the session's Prefect server (CI uses the embedded one; that is the demo's test).
    env = release_env(fresh_gypsum_server, offline_cache, PREFECT_API_URL=prefect_server.api_url)
    result = run(["bash", str(RELEASE_SH)], env, timeout=400)
    assert result.returncode == 0, result.stdout
    specs = sorted(SPECS.glob("*.yaml"))
    for spec in specs:
        assert_published(spec, fresh_gypsum_server)
    labels = [job.label for spec in specs for job in load_spec(spec).assets]
    published = [line.split()[0] for line in result.stdout.splitlines() if " published " in line]
    assert sorted(published) == sorted(labels)
    assert f"released {len(specs)} spec(s)" in result.stdout
    assert fresh_gypsum_server.tokens["owner"] not in result.stdout


def test_a_broken_spec_stops_the_release_before_any_upload(fresh_gypsum_server, offline_cache, tmp_path):
    create_projects(fresh_gypsum_server, example_projects())
    broken = tmp_path / "broken"
    shutil.copytree(SPECS / "data" / "zeisel-brain", broken / "data" / "zeisel-brain")
    metadata = broken / "data" / "zeisel-brain" / "_bioconductor.json"
    document = json.loads(metadata.read_text())
    del document["title"]
    metadata.write_text(json.dumps(document))
    spec = broken / "broken.yaml"
    spec.write_text(
        "defaults: {project: scrnaseq-examples}\n"
        "assets:\n  - {asset: zeisel-brain, version: v9, directory: data/zeisel-brain}\n"
    )
    before = len(fresh_gypsum_server.request_log)
    # The good spec comes first: it must not be published either.
    result = run(
        ["bash", str(RELEASE_SH), str(SPECS / "scrnaseq.yaml"), str(spec)],
        release_env(fresh_gypsum_server, offline_cache),
        timeout=120,
    )
    assert result.returncode != 0
    assert f"{spec}:3" in result.stdout and "title" in result.stdout, result.stdout
    assert fresh_gypsum_server.request_log[before:] == []
    assert "publishing" not in result.stdout
