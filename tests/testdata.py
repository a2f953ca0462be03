"""Test data and file helpers shared by several suites."""

from pathlib import Path

#: The reference document of section 9.6 of docs/gypsum-api.md: it passes bioconductor/v1.json,
#: and removing ``bioconductor_version`` makes it fail.
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


def write_files(folder: Path, files: dict[str, bytes]) -> Path:
    """Create ``folder`` holding ``files`` (relative path -> bytes); returns it."""
    for rel, data in files.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return folder
