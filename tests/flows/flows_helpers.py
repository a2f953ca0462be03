"""Test data shared by the flow tests: metadata documents and asset folders."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from testdata import REFERENCE_METADATA

#: The same document without a required field.
BROKEN_METADATA = {k: v for k, v in REFERENCE_METADATA.items() if k != "bioconductor_version"}


def write_asset(folder: Path, files: dict[str, bytes | str], metadata: dict | None = REFERENCE_METADATA) -> Path:
    """Create ``folder`` with ``files`` and, unless ``metadata`` is None, a ``_bioconductor.json``."""
    folder.mkdir(parents=True, exist_ok=True)
    for rel, content in files.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
    if metadata is not None:
        (folder / "_bioconductor.json").write_text(json.dumps(metadata))
    return folder


def big_asset_spec(folder: Path, projects: list[str], count: int, megabytes: int) -> Path:
    """A spec of ``count`` assets (a random ``megabytes`` file and a small one each) over ``projects``."""
    lines = ["concurrency: 2", "assets:"]
    for i in range(count):
        write_asset(folder / "data" / f"a{i}", {"big.bin": os.urandom(megabytes << 20), "small.txt": str(i)})
        lines.append(f"  - {{project: {projects[i % len(projects)]}, asset: a{i}, version: v1, directory: data/a{i}}}")
    spec = folder / "big.yaml"
    spec.write_text("\n".join(lines) + "\n")
    return spec


def publish_command(spec: Path, url: str) -> list[str]:
    """``gypsum-flows publish SPEC --json`` in a fresh interpreter, the token in ``$PUBLISH_TOKEN``."""
    return [
        sys.executable,
        "-m",
        "gypsum_flows",
        "publish",
        str(spec),
        "--url",
        url,
        "--token-env",
        "PUBLISH_TOKEN",
        "--json",
    ]


def subprocess_env(**extra: str) -> dict[str, str]:
    """This session's environment plus the harness's Prefect API URL, so a child reuses its server."""
    from prefect.settings import PREFECT_API_URL

    return {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value(), **extra}


def json_outcomes(stdout: str) -> list[dict]:
    """The outcomes printed by ``publish --json`` (after any log lines)."""
    return json.loads(stdout[stdout.index("[\n") :])


def age_lock(server, project: str, seconds: float) -> None:
    """Make ``project``'s lock look ``seconds`` old (the server serves the file's mtime as Last-Modified)."""
    then = time.time() - seconds
    os.utime(server.root / project / "..LOCK", (then, then))


def credentials(server, role: str = "owner"):
    """A GypsumCredentials block for ``role`` on ``server`` (default cache folder)."""
    from gypsum_flows.blocks import GypsumCredentials

    return GypsumCredentials(url=server.url, token=server.tokens[role])


def create_project(server, project: str, owner_role: str = "owner", uploaders: list | None = None) -> str:
    """Create ``project`` on ``server`` (as admin) owned by ``owner_role``'s login."""
    from gypsum_flows import client

    client.create_project(
        project,
        owners=[server.logins[owner_role]],
        uploaders=uploaders or [],
        url=server.url,
        token=server.tokens["admin"],
    )
    return project


def requests_matching(server, method: str, fragment: str) -> list[str]:
    """Paths of the requests ``server`` answered with ``method`` whose path contains ``fragment``."""
    return [path for m, path in server.request_log if m == method and fragment in path]


def wait_for_events(name: str, resource_prefix: str, expected: int, timeout: float = 20.0) -> list:
    """Events ``name`` on resources starting with ``resource_prefix``, once at least ``expected`` arrived."""
    import time

    from prefect.client.orchestration import get_client
    from prefect.events.filters import EventFilter, EventNameFilter, EventResourceFilter

    flt = EventFilter(event=EventNameFilter(name=[name]), resource=EventResourceFilter(id_prefix=[resource_prefix]))
    deadline = time.monotonic() + timeout
    with get_client(sync_client=True) as client:
        while True:
            events = client.read_events(filter=flt, limit=50).events
            if len(events) >= expected or time.monotonic() > deadline:
                return events
            time.sleep(0.5)


def read_artifacts(key: str) -> list:
    """Every version of the artifact ``key``, newest first."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    with get_client(sync_client=True) as client:
        return client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])))


#: (spec text, expected line, expected field, expected words in the message).
MALFORMED = {
    "yaml-syntax": ("assets:\n  - {asset: a, version: v\n", 3, "", "YAML syntax error"),
    "empty": ("# nothing\n", None, "", "empty"),
    "not-a-mapping": ("- asset: a\n", 1, "", "valid dictionary"),
    "duplicate-key": ("assets:\n  - asset: a\n    asset: b\n    version: v\n", 3, "assets[0].asset", "duplicate key"),
    "unknown-top-key": (
        "asets: []\nassets: [{project: p, asset: a, version: v, directory: data/ok}]\n",
        1,
        "asets",
        "unknown key",
    ),
    "unknown-asset-key": (
        "assets:\n  - project: p\n    asset: a\n    version: v\n    directroy: data/ok\n",
        5,
        "assets[0].directroy",
        "unknown key",
    ),
    "missing-version": ("assets:\n  - {project: p, asset: a, directory: data/ok}\n", 2, "assets[0].version", "missing"),
    "missing-project": (
        "assets:\n  - {asset: a, version: v, directory: data/ok}\n",
        2,
        "assets[0].project",
        "defaults",
    ),
    "no-assets": ("defaults: {project: p}\nassets: []\n", 2, "assets", "at least 1"),
    "slash-in-asset": (
        "assets:\n  - {project: p, asset: a/b, version: v, directory: data/ok}\n",
        2,
        "assets[0].asset",
        "cannot contain '/'",
    ),
    "dotdot-version": (
        "defaults: {project: p}\nassets:\n  - asset: a\n    version: ..v1\n    directory: data/ok\n",
        4,
        "assets[0].version",
        "cannot start with '..'",
    ),
    "slash-in-default-project": (
        "defaults: {project: a/b}\nassets: [{asset: a, version: v, directory: data/ok}]\n",
        1,
        "defaults.project",
        "cannot contain '/'",
    ),
    "missing-folder": (
        "assets:\n  - {project: p, asset: a, version: v, directory: data/nope}\n",
        2,
        "assets[0].directory",
        "folder not found",
    ),
    "file-not-folder": (
        "assets:\n  - {project: p, asset: a, version: v, directory: data/ok/counts.csv}\n",
        2,
        "assets[0].directory",
        "not a folder",
    ),
    "duplicate-pair": (
        "defaults: {project: p}\nassets:\n  - {asset: a, version: v, directory: data/ok}\n"
        "  - {asset: a, version: v, directory: data/bare}\n",
        4,
        "assets[1]",
        "duplicate of assets[0]",
    ),
    "number-version": (
        "assets:\n  - {project: p, asset: a, version: 1.10, directory: data/ok}\n",
        2,
        "assets[0].version",
        "quote",
    ),
    "string-probation": (
        "assets:\n  - {project: p, asset: a, version: v, probation: 'yes', directory: data/ok}\n",
        2,
        "assets[0].probation",
        "true or false",
    ),
    "directory-and-clone": (
        "assets:\n  - {project: p, asset: a, version: v, directory: data/ok, clone: {}}\n",
        2,
        "assets[0].clone",
        "not both",
    ),
    "neither-directory-nor-clone": (
        "assets:\n  - {project: p, asset: a, version: v}\n",
        2,
        "assets[0]",
        "either 'directory'",
    ),
    "missing-overlay": (
        "assets:\n  - project: p\n    asset: a\n    version: v\n    clone:\n      overlay: data/x\n",
        6,
        "assets[0].clone.overlay",
        "folder not found",
    ),
    "bad-delete-path": (
        "assets:\n  - project: p\n    asset: a\n    version: v\n    clone:\n      delete: [ok.txt, ../escape]\n",
        6,
        "assets[0].clone.delete[1]",
        "'..'",
    ),
    "unknown-clone-key": (
        "assets:\n  - {project: p, asset: a, version: v, clone: {form: latest}}\n",
        2,
        "assets[0].clone.form",
        "unknown key",
    ),
    "concurrency-zero": (
        "concurrency: 0\nassets: [{project: p, asset: a, version: v, directory: data/ok}]\n",
        1,
        "concurrency",
        "greater than or equal to 1",
    ),
    "missing-schema-file": (
        "defaults:\n  project: p\n  metadata:\n    schema_file: nope.json\n"
        "assets: [{asset: a, version: v, directory: data/ok}]\n",
        4,
        "defaults.metadata.schema_file",
        "cannot read schema file",
    ),
    "metadata-file-with-slash": (
        "assets:\n  - project: p\n    asset: a\n    version: v\n    directory: data/ok\n"
        "    metadata: {files: [sub/x.json]}\n",
        6,
        "assets[0].metadata.files",
        "base names",
    ),
    "bad-metadata": (
        "defaults: {project: p}\nassets:\n  - {asset: a, version: v, directory: data/ok}\n"
        "  - {asset: b, version: v, directory: data/bad}\n",
        4,
        "assets[1].directory",
        "bioconductor_version",
    ),
    "no-metadata": (
        "defaults: {project: p}\nassets:\n  - {asset: b, version: v, directory: data/bare}\n",
        3,
        "assets[0].directory",
        "no metadata file named '_bioconductor.json'",
    ),
    "bad-overlay-metadata": (
        "assets:\n  - project: p\n    asset: a\n    version: v\n    clone: {overlay: data/bad}\n",
        2,
        "assets[0].clone.overlay",
        "bioconductor_version",
    ),
}
