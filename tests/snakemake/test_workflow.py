"""End to end: the snakemake CLI runs examples/snakemake/Snakefile against the local server."""

from __future__ import annotations

import csv
import hashlib
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from snakemake_helpers import FIRST, LINKED, PLUGIN_ROOT, data_requests

from gypsum_flows import client
from gypsum_flows.constants import LOCK_FILE

SNAKEFILE = Path(__file__).parents[2] / "examples" / "snakemake" / "Snakefile"


def snakemake_command() -> list[str]:
    found = shutil.which("snakemake", path=os.path.dirname(sys.executable)) or shutil.which("snakemake")
    return [found] if found else [sys.executable, "-m", "snakemake"]


def workflow_dir(base: Path) -> Path:
    base.mkdir(parents=True)
    shutil.copy(SNAKEFILE, base / "Snakefile")
    return base


def run(workdir: Path, published, cache: Path, *config: str, role: str = "owner", extra: tuple[str, ...] = ()):
    """One `snakemake` run as a user would start it (token in the environment); checks no log shows the token."""
    env = dict(
        os.environ,
        SNAKEMAKE_STORAGE_GYPSUM_TOKEN=published.server.tokens[role],
        SNAKEMAKE_STORAGE_GYPSUM_CACHE_DIR=str(cache),
        PYTHONPATH=os.pathsep.join(p for p in (PLUGIN_ROOT, os.environ.get("PYTHONPATH")) if p),
    )
    env.pop("GYPSUM_TOKEN", None)
    command = [
        *snakemake_command(),
        "--cores",
        "1",
        "--storage-gypsum-url",
        published.url,
        *extra,
        "--config",
        f"project={published.project}",
        *config,
    ]
    done = subprocess.run(command, check=False, cwd=workdir, env=env, capture_output=True, text=True, timeout=600)
    logs = "".join(p.read_text() for p in (workdir / ".snakemake" / "log").glob("*.log"))
    for token in published.server.tokens.values():
        assert token not in done.stdout + done.stderr + logs
    return done


def expected_summary(source: Path) -> dict[str, bytes]:
    """The example's summary, computed here from the source files (column sums, one line per gene)."""
    counts = list(csv.reader(io.StringIO((source / "counts.csv").read_text())))
    classes = {r["cell"]: r["level1class"] for r in csv.DictReader(io.StringIO((source / "coldata.csv").read_text()))}
    columns = list(zip(*counts, strict=True))[1:]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["cell", "level1class", "total_counts"])
    for column in columns:
        writer.writerow([column[0], classes[column[0]], sum(map(int, column[1:]))])
    genes = "".join(row[0] + "\n" for row in counts[1:])
    return {"cell_totals.csv": out.getvalue().encode(), "genes.txt": genes.encode()}


def uploads(server, since: int) -> list[str]:
    return [path for method, path in server.request_log[since:] if path.startswith("/upload/")]


def assert_absent(published, asset: str, version: str) -> None:
    assert version not in client.list_versions(published.project, asset, url=published.url)
    assert not (published.server.root / published.project / LOCK_FILE).exists()


def test_example_publishes_once_and_reuses_the_gypsum_cache(published, tmp_path):
    server, cache = published.server, tmp_path / "gypsum-cache"
    work = workflow_dir(tmp_path / "wf")
    keep = ("--keep-storage-local-copies",)

    before = len(server.request_log)
    first = run(work, published, cache, "out_version=s1", extra=keep)
    assert first.returncode == 0, first.stderr
    assert f"zeisel-brain/latest is version '{LINKED}'" in first.stderr
    # Inputs retrieved: LINKED's files are links, downloaded once from their ancestor FIRST.
    fetched = data_requests(server, before)
    assert sorted(fetched) == sorted(
        f"/file/{published.project}%2Fzeisel-brain%2F{FIRST}%2F{name}" for name in ("coldata.csv", "counts.csv")
    )
    local = work / ".snakemake" / "storage" / "gypsum" / published.project / "zeisel-brain" / LINKED
    assert (local / "counts.csv").read_bytes() == (published.source / "counts.csv").read_bytes()
    assert not (local / "counts.csv").is_symlink()

    expected = expected_summary(published.source)
    manifest = client.fetch_manifest(
        published.project, "zeisel-brain-summary", "s1", cache_dir=False, url=published.url
    )
    assert {p: (e["size"], e["md5sum"]) for p, e in manifest.items()} == {
        p: (len(data), hashlib.md5(data).hexdigest()) for p, data in expected.items()
    }

    before = len(server.request_log)
    second = run(work, published, cache, "out_version=s1", extra=keep)
    assert second.returncode == 0, second.stderr
    assert "Nothing to be done" in second.stderr
    assert uploads(server, before) == [] and data_requests(server, before) == []

    shutil.rmtree(work / ".snakemake" / "storage")
    before = len(server.request_log)
    third = run(work, published, cache, "out_version=s1", extra=keep)
    assert third.returncode == 0, third.stderr
    assert "Nothing to be done" in third.stderr
    assert data_requests(server, before) == []

    # Another workflow folder with the same gypsum cache retrieves its inputs without a download.
    other = workflow_dir(tmp_path / "wf2")
    before = len(server.request_log)
    fourth = run(other, published, cache, "out_version=s2")
    assert fourth.returncode == 0, fourth.stderr
    assert "Retrieving from storage" in fourth.stderr
    assert data_requests(server, before) == []
    # Unchanged output files are deduplicated against the latest summary version.
    manifest = client.fetch_manifest(
        published.project, "zeisel-brain-summary", "s2", cache_dir=False, url=published.url
    )
    assert {e["link"]["version"] for e in manifest.values()} == {"s1"}


@pytest.mark.parametrize(
    ("config", "role", "message"),
    [
        (("fail=1",), "owner", "failing on purpose"),
        ((), "stranger", "gypsum storage gypsum://{project}/zeisel-brain-summary/{version}: 403"),
    ],
    ids=["rule-fails", "publication-refused"],
)
def test_failure_leaves_no_version_and_no_lock(published, tmp_path, unique_name, config, role, message):
    version = unique_name("f")
    done = run(
        workflow_dir(tmp_path / "wf"), published, tmp_path / "cache", f"out_version={version}", *config, role=role
    )
    assert done.returncode != 0
    assert message.format(project=published.project, version=version) in done.stderr
    assert_absent(published, "zeisel-brain-summary", version)
