"""The README's walk-through and its client and tasks examples, run as written on a fresh local server.

The blocks are taken from README.md and run in order by one bash script in an empty folder, with only the
port numbers changed to free ones (8787 for gypsum, Prefect's UI port through its environment variable), a
private Prefect home, and a cache folder holding the packaged metadata schema so nothing leaves this machine.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SECTION = "## Your first publication in five minutes"
TOKEN_COMMANDS = re.compile(r"gypsum-flows (publish|recover|project|probation|login)\b|\bGYPSUM_TOKEN=|\btoken=")


def walkthrough() -> str:
    text = (REPO / "README.md").read_text()
    start = text.index(SECTION)
    end = text.index("\n## ", start + len(SECTION))
    return text[start:end]


def blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```$", text, re.M | re.S)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def script(section: str, port: int) -> str:
    lines = ["set -euo pipefail", "trap 'kill $(jobs -p) 2>/dev/null || true' EXIT"]
    for block in blocks(section, "bash"):
        lines.append(block)
    for block in blocks(section, "python"):
        lines.append(f"python - <<'PYTHON_BLOCK'\n{block}PYTHON_BLOCK")
    return "\n".join(lines).replace("8787", str(port))


@pytest.mark.timeout(1800)  # three Prefect start-ups on a shared, loaded machine
def test_the_walkthrough_runs_as_written_on_a_fresh_server(tmp_path):
    from gypsum_flows.client.metadata import shipped_schema_path

    section = walkthrough()
    assert len(blocks(section, "bash")) >= 6 and len(blocks(section, "python")) == 2
    schema = tmp_path / "cache" / "schemas" / "bioconductor" / "v1.json"
    schema.parent.mkdir(parents=True)
    shutil.copyfile(shipped_schema_path(), schema)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GYPSUM_", "PREFECT_", "GITHUB_TOKEN"))}
    env.update(
        GYPSUM_CACHE_DIR=str(tmp_path / "cache"),
        PREFECT_HOME=str(tmp_path / "prefect"),
        PREFECT_SERVER_API_HOST="127.0.0.1",
        PREFECT_SERVER_API_PORT=str(free_port()),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="180",
    )
    work = tmp_path / "work"
    work.mkdir()
    run = subprocess.run(
        ["bash", "-c", script(section, free_port())], cwd=work, env=env, capture_output=True, text=True, timeout=1700
    )
    out = run.stdout
    assert run.returncode == 0, out + run.stderr
    assert "local-admin" in out and "created project 'my-first-project'" in out
    assert "my-spec.yaml: OK, 1 assets" in out and "1 published" in out
    assert re.search(r"^my-dataset\s+v1\s+\*\s+published\s+local-admin", out, re.M)
    assert "Actb,120" in out and "['v1']" in out
    assert "'files_uploaded': 0" in out and "'files_linked': 3" in out  # the tasks example's v3
    versions = work / "registry" / "my-first-project" / "my-dataset"
    assert sorted(p.name for p in versions.iterdir() if not p.name.startswith("..")) == ["v1", "v2", "v3"]
    assert (versions / "v2" / "notes.txt").is_file() and not (versions / "v2" / "counts.csv").exists()  # linked
    token = (work / "registry.state" / "users.yaml").read_text().split("token: ")[1].split()[0]
    assert token not in out + run.stderr


def test_no_example_sends_a_token_to_a_server_it_does_not_name():
    """Outside the walk-through (which exports GYPSUM_REST_URL first), token-sending commands name the server."""
    texts = [(REPO / "README.md").read_text().replace(walkthrough(), "")]
    texts += [p.read_text() for p in sorted((REPO / "docs").glob("*.md"))]
    offending = []
    for text in texts:
        for block in blocks(text, "bash") + blocks(text, "python"):
            for line in block.replace("\\\n", " ").splitlines():
                if TOKEN_COMMANDS.search(line) and not re.search(
                    r"--url|url=|GYPSUM_REST_URL=|--credentials-block|"
                    r"--dry-run|--logout|--print-token",
                    line,
                ):
                    offending.append(line)
    assert offending == []
