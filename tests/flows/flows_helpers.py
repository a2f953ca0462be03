"""Test data shared by the flow tests: metadata documents and asset folders."""

from __future__ import annotations

import json
from pathlib import Path

#: The reference document of section 9.6 of the API contract: it passes bioconductor/v1.json.
REFERENCE_METADATA = {
    "title": "Fatherhood",
    "description": "Luke ich bin dein Vater.",
    "sources": [{"provider": "GEO", "id": "GSE12345"}],
    "taxonomy_id": ["9606"],
    "genome": ["GRCm38"],
    "maintainer_name": "Darth Vader",
    "maintainer_email": "vader@empire.gov",
    "bioconductor_version": "3.10",
}

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


def credentials(server, role: str = "owner"):
    """A GypsumCredentials block for ``role`` on ``server`` (default cache folder)."""
    from gypsum_flows.blocks import GypsumCredentials

    return GypsumCredentials(url=server.url, token=server.tokens[role])


def create_project(server, project: str, owner_role: str = "owner", uploaders: list | None = None) -> str:
    """Create ``project`` on ``server`` (as admin) owned by ``owner_role``'s login."""
    from gypsum_flows import client

    client.create_project(project, owners=[server.logins[owner_role]], uploaders=uploaders or [],
                          url=server.url, token=server.tokens["admin"])
    return project


def requests_matching(server, method: str, fragment: str) -> list[str]:
    """Paths of the requests ``server`` answered with ``method`` whose path contains ``fragment``."""
    return [path for m, path in server.request_log if m == method and fragment in path]


def wait_for_events(name: str, resource_prefix: str, expected: int, timeout: float = 20.0) -> list:
    """Events ``name`` on resources starting with ``resource_prefix``, once at least ``expected`` arrived."""
    import time

    from prefect.client.orchestration import get_client
    from prefect.events.filters import EventFilter, EventNameFilter, EventResourceFilter

    flt = EventFilter(event=EventNameFilter(name=[name]),
                      resource=EventResourceFilter(id_prefix=[resource_prefix]))
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
