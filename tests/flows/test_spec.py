"""Batch specs: loading, defaults, relative paths, the JSON schema, and malformed specs."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from gypsum_flows.batch import SpecError, check_spec, load_spec
from gypsum_flows.batch.spec import spec_json_schema

from flows_helpers import BROKEN_METADATA, MALFORMED, write_asset

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def spec_dir(tmp_path) -> Path:
    """A folder with data/ok (valid metadata), data/bad (invalid), data/bare (none), data/patch."""
    write_asset(tmp_path / "data" / "ok", {"counts.csv": "a,b\n1,2\n", "sub/more.txt": "x"})
    write_asset(tmp_path / "data" / "bad", {"counts.csv": "1"}, metadata=BROKEN_METADATA)
    write_asset(tmp_path / "data" / "bare", {"counts.csv": "1"}, metadata=None)
    write_asset(tmp_path / "data" / "patch", {"extra.txt": "y"}, metadata=None)
    return tmp_path


def write_spec(folder: Path, text: str, name: str = "batch.yaml") -> Path:
    path = folder / name
    path.write_text(text)
    return path


def test_valid_spec_resolves_defaults_and_relative_paths(spec_dir):
    path = write_spec(
        spec_dir,
        "defaults: {project: scrnaseq, probation: true, metadata: {schema: bioconductor/v1.json}}\n"
        "concurrency: 3\n"
        "assets:\n"
        "  - {asset: zeisel-brain, version: 2024-02-01, directory: data/ok}\n"
        "  - asset: tasic-brain\n"
        "    version: '2024-02-01'\n"
        "    project: other\n"
        "    probation: false\n"
        "    clone: {from: latest, overlay: data/patch, delete: [old.csv]}\n",
    )
    spec = check_spec(path)
    assert spec.concurrency == 3
    first, second = spec.assets
    assert (first.project, first.asset, first.version) == ("scrnaseq", "zeisel-brain", "2024-02-01")
    assert first.directory == str(spec_dir / "data" / "ok") and first.probation is True
    assert first.spec_line == 4 and first.origin.endswith("batch.yaml:4")
    assert second.project == "other" and second.probation is False and second.directory is None
    assert second.clone.model_dump() == {
        "project": "other", "asset": "tasic-brain", "version": "latest",
        "overlay": str(spec_dir / "data" / "patch"), "delete": ["old.csv"],
    }
    assert second.spec_line == 5 and second.deduplicate is True


def test_metadata_null_disables_the_check_and_schema_file_is_relative(spec_dir):
    (spec_dir / "schema.json").write_text(json.dumps({"type": "object"}))
    path = write_spec(
        spec_dir,
        "assets:\n"
        "  - {project: p, asset: a, version: v, directory: data/bare, metadata: null}\n"
        "  - {project: p, asset: b, version: v, directory: data/bad, metadata: {schema_file: schema.json}}\n",
    )
    first, second = check_spec(path).assets
    assert first.metadata is None
    assert second.metadata.schema_file == str(spec_dir / "schema.json")


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_spec_names_file_line_and_field(spec_dir, case):
    text, line, field, words = MALFORMED[case]
    path = write_spec(spec_dir, text, name=f"{case}.yaml")
    with pytest.raises(SpecError) as caught:
        check_spec(path)
    problems = caught.value.problems
    assert problems, case
    match = [p for p in problems if p.field == field and words in p.message]
    assert match, f"{case}: expected {field!r} with {words!r}, got {[str(p) for p in problems]}"
    assert match[0].line == line and match[0].file == str(path)
    expected_place = f"{path}:{line}" if line else str(path)
    assert expected_place in str(caught.value)


def test_every_problem_is_reported_at_once(spec_dir):
    path = write_spec(
        spec_dir,
        "defaults: {project: p}\n"
        "assets:\n"
        "  - {asset: a/b, version: v, directory: data/ok}\n"
        "  - {asset: c, version: ..v, directory: data/missing}\n"
        "  - {asset: d, version: v, directory: data/ok}\n"
        "  - {asset: d, version: v, directory: data/ok}\n",
    )
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    assert [(p.line, p.field) for p in caught.value.problems] == [
        (3, "assets[0].asset"), (4, "assets[1].version"), (4, "assets[1].directory"), (6, "assets[3]"),
    ]
    assert "line 5" in caught.value.problems[-1].message


def test_unreadable_spec_file(tmp_path):
    with pytest.raises(SpecError, match="cannot read the spec"):
        load_spec(tmp_path / "absent.yaml")


def test_shipped_json_schema_matches_the_model_and_accepts_the_examples():
    shipped = json.loads((REPO / "gypsum_flows" / "schemas" / "spec.json").read_text())
    assert shipped == spec_json_schema()
    validator = jsonschema.Draft7Validator(shipped)
    examples = sorted((REPO / "deployments" / "specs").glob("*.yaml"))
    assert examples
    for example in examples:
        document = yaml.safe_load(example.read_text())
        assert not list(validator.iter_errors(json.loads(json.dumps(document, default=str)))), example
        check_spec(example)
    bad = {"assets": [{"asset": "a", "version": "v", "directroy": "x"}]}
    assert list(validator.iter_errors(bad))
