"""Which metadata files a folder must carry, and every way they fail their schema.

Pure local code (no Prefect, no server): the flows, the batch pre-check and
``gypsum-flows check`` all report metadata problems through
:func:`metadata_violations`, so a violation reads the same everywhere.

Example:
    >>> import json, tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (root / "sub").mkdir(), (root / "sub" / "_bioconductor.json").write_text("{}")
    >>> find_metadata_files(root, ["_bioconductor.json"])
    ['sub/_bioconductor.json']
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import NamedTuple

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..errors import GypsumMetadataError

#: The schema that bioconductor's metadata index uses, and the file name it indexes.
DEFAULT_SCHEMA = "bioconductor/v1.json"
DEFAULT_METADATA_FILE = "_bioconductor.json"


class MetadataCheck(BaseModel):
    """How to find and validate the metadata files of a version.

    Example:
        >>> MetadataCheck().files
        ['_bioconductor.json']
        >>> MetadataCheck.model_validate({"schema": "bioconductor/v1.json", "required": False}).required
        False
    """

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    schema_name: str = Field(
        DEFAULT_SCHEMA,
        alias="schema",
        description="Name of the published schema to validate against (fetched like fetch_metadata_schema).",
    )
    schema_file: str | None = Field(None, description="A local JSON schema file to use instead of the published one.")
    files: list[str] = Field(
        default_factory=lambda: [DEFAULT_METADATA_FILE],
        min_length=1,
        description="Base names of the metadata files, matched at any depth.",
    )
    required: bool = Field(True, description="Whether a version without any metadata file is an error.")

    @field_validator("files")
    @classmethod
    def _plain_names(cls, names: list[str]) -> list[str]:
        bad = [n for n in names if not n or "/" in n or "\\" in n]
        if bad:
            raise ValueError(f"metadata file names are base names without '/': {bad}")
        return names


class Violation(NamedTuple):
    """One metadata problem: the file (relative path), where in it, and what is wrong."""

    file: str
    where: str
    message: str

    def __str__(self) -> str:
        place = ": ".join(x for x in (self.file, self.where) if x)
        return f"{place}: {self.message}" if place else self.message


def find_metadata_files(directory: str | Path, basenames: list[str]) -> list[str]:
    """Relative POSIX paths of every file under ``directory`` whose base name is in ``basenames``.

    Symbolic links count as files (a cloned version is made of links).
    """
    root = Path(directory)
    wanted = set(basenames)
    found = []
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            if name in wanted:
                found.append((Path(dirpath) / name).relative_to(root).as_posix())
    return sorted(found)


def metadata_violations(directory: str | Path, check: MetadataCheck, schema: str | Path) -> list[Violation]:
    """Every violation of every metadata file under ``directory``, validated against ``schema``.

    An empty list means all files pass (and at least one exists when ``check.required``).

    Example:
        >>> import tempfile, pathlib
        >>> root = pathlib.Path(tempfile.mkdtemp())
        >>> schema = root.parent / (root.name + "-schema.json")
        >>> _ = schema.write_text('{"type": "object", "required": ["title"]}')
        >>> metadata_violations(root, MetadataCheck(), schema)[0].message
        "no metadata file named '_bioconductor.json' found"
    """
    files = find_metadata_files(directory, check.files)
    if not files and check.required:
        names = " or ".join(repr(n) for n in check.files)
        return [Violation("", "", f"no metadata file named {names} found")]
    problems: list[Violation] = []
    for rel in files:
        problems.extend(file_violations(Path(directory) / rel, rel, str(schema)))
    return problems


def file_violations(path: Path, rel: str, schema: str) -> list[Violation]:
    """The violations of one metadata file (``rel`` is how reports name it).

    Example:
        >>> import tempfile, pathlib
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> _ = (folder / "m.json").write_text("{oops")
        >>> file_violations(folder / "m.json", "m.json", "unused")[0].message.startswith("not readable JSON")
        True
    """
    from ..client.metadata import validate_metadata

    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return [Violation(rel, "", f"not readable JSON: {exc}")]
    try:
        validate_metadata(document, schema)
    except GypsumMetadataError as exc:
        return [Violation(rel, where or "$", msg) for where, msg in exc.violations] or [Violation(rel, "$", str(exc))]
    except ValueError as exc:
        return [Violation(rel, "$", str(exc))]
    return []
