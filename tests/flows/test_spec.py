"""Batch specs: loading, defaults, relative paths, the JSON schema, and malformed specs."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import jsonschema
import pytest
import yaml
from flows_helpers import BROKEN_METADATA, MALFORMED, write_asset

from gypsum_flows.batch import SpecError, load_spec, validate_spec
from gypsum_flows.batch.spec import MAX_DEPTH, MAX_SPEC_BYTES, spec_json_schema
from gypsum_flows.cli import main

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
    spec = validate_spec(path)
    assert spec.concurrency == 3
    first, second = spec.assets
    assert (first.project, first.asset, first.version) == ("scrnaseq", "zeisel-brain", "2024-02-01")
    assert first.directory == str(spec_dir / "data" / "ok") and first.probation is True
    assert first.spec_line == 4 and first.origin.endswith("batch.yaml:4")
    assert second.project == "other" and second.probation is False and second.directory is None
    assert second.clone.model_dump() == {
        "project": "other",
        "asset": "tasic-brain",
        "version": "latest",
        "overlay": str(spec_dir / "data" / "patch"),
        "delete": ["old.csv"],
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
    first, second = validate_spec(path).assets
    assert first.metadata is None
    assert second.metadata.schema_file == str(spec_dir / "schema.json")


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_spec_names_file_line_and_field(spec_dir, case):
    text, line, field, words = MALFORMED[case]
    path = write_spec(spec_dir, text, name=f"{case}.yaml")
    with pytest.raises(SpecError) as caught:
        validate_spec(path)
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
        (3, "assets[0].asset"),
        (4, "assets[1].version"),
        (4, "assets[1].directory"),
        (6, "assets[3]"),
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
        validate_spec(example)
    bad = {"assets": [{"asset": "a", "version": "v", "directroy": "x"}]}
    assert list(validator.iter_errors(bad))


# ---------------------------------------------------------------------------------------------
# Hostile specs: nothing a spec file holds may hang, exhaust or flood the machine.

ALIAS_BOMB = (  # 9 levels of 9 aliases: 387 million strings once expanded
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    + "".join(f"{n}: &{n} [{','.join(['*' + p] * 9)}]\n" for p, n in zip("abcdefgh", "bcdefghi", strict=True))
)


def test_alias_bomb_is_refused_at_once(spec_dir):
    path = write_spec(spec_dir, ALIAS_BOMB)
    assert len(ALIAS_BOMB) < 400
    started = time.monotonic()
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    assert time.monotonic() - started < 1.0
    [problem] = caught.value.problems
    assert (problem.line, problem.field) == (1, "") and "anchors and aliases are not allowed" in problem.message
    assert str(caught.value).startswith(f"invalid batch spec (1 problem):\n  {path}:1: YAML anchors")


def test_a_lone_alias_or_anchor_is_refused_with_its_line(spec_dir):
    text = "defaults: {project: p}\nassets:\n  - &one {asset: a, version: v, directory: data/ok}\n"
    path = write_spec(spec_dir, text)
    with pytest.raises(SpecError, match=r"batch.yaml:3: YAML anchors and aliases .*found anchor &one"):
        load_spec(path)
    path = write_spec(spec_dir, "x: 1\nassets:\n  - *nowhere\n")
    with pytest.raises(SpecError, match=r"batch.yaml:3: .*found alias \*nowhere"):
        load_spec(path)


@pytest.mark.parametrize("style", ["flow", "block"])
def test_a_5000_deep_spec_is_refused_on_depth(spec_dir, style):
    depth = 5000
    if style == "flow":
        text = "assets: " + "[" * depth + "]" * depth + "\n"
    else:
        text = "assets:\n" + "- " * depth + "v\n"  # block sequences nested on one line
    path = write_spec(spec_dir, text)
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    [problem] = caught.value.problems
    assert f"nested more than {MAX_DEPTH} levels deep" in problem.message and problem.line


def test_a_50_mb_spec_is_refused_on_size_with_short_output(spec_dir, capsys):
    path = spec_dir / "huge.yaml"
    with open(path, "w") as handle:
        handle.write("assets:\n  - {project: p, asset: a, version: v, directory: '")
        handle.write("x" * (50 * 1024 * 1024))
        handle.write("'}\n")
    started = time.monotonic()
    assert main(["check", str(path)]) == 1
    captured = capsys.readouterr()
    assert time.monotonic() - started < 5
    assert f"over the limit of {MAX_SPEC_BYTES:,} bytes" in captured.err
    assert len(captured.out) + len(captured.err) < 500


def test_a_huge_value_is_echoed_shortened(spec_dir, capsys):
    name = "n/" + "x" * (1024 * 1024)  # under the size limit, far too long to print
    key = "k" * 1000  # YAML's longest implicit key
    typed = write_spec(
        spec_dir,
        f"assets:\n  - {{project: p, asset: a, version: v, probation: '{name}'}}\n"
        f"  - {{project: p, asset: b, version: v, directory: data/ok, {key}: 1}}\n",
    )
    named = write_spec(
        spec_dir, f"assets:\n  - {{project: p, asset: '{name}', version: v, directory: '{name}'}}\n", name="named.yaml"
    )
    expected = {
        typed: ["assets[0].probation: should be true or false (got 'n/xxx", "…)", "unknown key"],
        named: [
            "assets[0].asset: asset name cannot contain '/'",
            "(got 'n/xxx",
            "…)",
            "assets[0].directory: cannot use folder",
        ],
    }
    for path, words in expected.items():
        assert main(["check", str(path)]) == 1
        err = capsys.readouterr().err
        assert len(err) < 1000, err[:3000]
        assert all(w in err for w in words), err


def test_a_spec_that_is_not_a_regular_file_is_refused(tmp_path):
    fifo = tmp_path / "spec.yaml"
    os.mkfifo(fifo)
    with pytest.raises(SpecError, match="not a regular file"):
        load_spec(fifo)


@pytest.fixture
def outside_spec(spec_dir, tmp_path_factory) -> tuple[Path, dict[str, Path]]:
    """A spec in spec_dir/specs naming an absolute folder, a ``..`` folder and a symlink that leads out."""
    elsewhere = write_asset(tmp_path_factory.mktemp("elsewhere") / "secret", {"key.txt": "s"})
    (spec_dir / "specs").mkdir()
    (spec_dir / "specs" / "link").symlink_to(spec_dir / "data" / "ok")
    write_asset(spec_dir / "specs" / "inside", {"a.txt": "1"})
    path = write_spec(
        spec_dir / "specs",
        "defaults: {project: p}\n"
        "assets:\n"
        f"  - {{asset: abs, version: v, directory: {elsewhere}}}\n"
        "  - {asset: up, version: v, directory: ../data/ok}\n"
        "  - {asset: link, version: v, directory: link}\n"
        "  - {asset: fine, version: v, directory: inside}\n"
        "  - {asset: clone, version: v, clone: {overlay: ../data/patch}}\n",
    )
    folders = {
        "abs": elsewhere,
        "up": spec_dir / "data" / "ok",
        "link": spec_dir / "data" / "ok",
        "clone": spec_dir / "data" / "patch",
    }
    return path, folders


def test_outside_folders_are_refused_without_the_flag(outside_spec, capsys):
    path, _ = outside_spec
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    outside = [(p.line, p.field) for p in caught.value.problems]
    assert outside == [
        (3, "assets[0].directory"),
        (4, "assets[1].directory"),
        (5, "assets[2].directory"),
        (7, "assets[4].clone.overlay"),
    ]
    assert all(
        "outside the spec's folder" in p.message and "--allow-outside" in p.message for p in caught.value.problems
    )
    assert "leads to" in caught.value.problems[2].message
    assert main(["check", str(path)]) == 1
    err = capsys.readouterr().err
    assert f"{path}:3: assets[0].directory" in err and "--allow-outside" in err


def test_outside_folders_are_accepted_with_the_flag_and_check_names_them(outside_spec, capsys):
    path, folders = outside_spec
    spec = load_spec(path, allow_outside=True)
    assert [job.asset for job in spec.assets] == ["abs", "up", "link", "fine", "clone"]
    assert spec.outside == [
        ("assets[0].directory", str(folders["abs"].resolve())),
        ("assets[1].directory", str(folders["up"].resolve())),
        ("assets[2].directory", str(folders["link"].resolve())),
        ("assets[4].clone.overlay", str(folders["clone"].resolve())),
    ]
    assert main(["check", str(path), "--allow-outside"]) == 0
    out = capsys.readouterr().out
    assert "4 folders outside the spec's folder (allowed by --allow-outside):" in out
    for folder in folders.values():
        assert str(folder.resolve()) in out
    assert "inside" not in out.split("outside the spec's folder")[1]
