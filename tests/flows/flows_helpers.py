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
