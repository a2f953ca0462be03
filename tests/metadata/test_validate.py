"""validate_metadata and the shipped bioconductor/v1.json schema (sections 7 and 9 of docs/gypsum-api.md)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from metadata_helpers import REFERENCE_DOC

from gypsum_flows.client.metadata import shipped_schema_path, validate_metadata
from gypsum_flows.errors import GypsumMetadataError

SCHEMA_PATH = shipped_schema_path()


@pytest.mark.parametrize("schema", [SCHEMA_PATH, Path(SCHEMA_PATH), json.loads(Path(SCHEMA_PATH).read_text())])
def test_reference_document_validates_as_dict_and_string(schema) -> None:
    assert validate_metadata(REFERENCE_DOC, schema) is True
    assert validate_metadata(json.dumps(REFERENCE_DOC), schema) is True


def test_missing_bioconductor_version_fails() -> None:
    doc = {k: v for k, v in REFERENCE_DOC.items() if k != "bioconductor_version"}
    with pytest.raises(GypsumMetadataError, match="'bioconductor_version' is a required property") as info:
        validate_metadata(doc, SCHEMA_PATH)
    assert isinstance(info.value, ValueError)
    assert info.value.violations == [("$", "'bioconductor_version' is a required property")]


def test_every_violation_is_named_with_its_path() -> None:
    doc = copy.deepcopy(REFERENCE_DOC)
    del doc["title"]
    doc["bioconductor_version"] = "3.0"
    doc["genome"] = ["GRCm38", "hg19"]
    doc["sources"] = [{"provider": "GEO", "id": "GSE12345"}, {"provider": "PubMed", "id": "PMID1", "extra": 1}]
    doc["maintainer_name"] = "Vader"
    doc["colour"] = "black"
    doc["applications"] = {"takane": {"type": "data_frame", "rds_file": {"class": "x"}}}
    with pytest.raises(GypsumMetadataError) as info:
        validate_metadata(doc, SCHEMA_PATH)
    paths = [path for path, _ in info.value.violations]
    assert sorted(paths) == sorted(
        [
            "$",
            "$",
            "$.applications.takane",
            "$.applications.takane",
            "$.bioconductor_version",
            "$.genome[1]",
            "$.maintainer_name",
            "$.sources[1]",
            "$.sources[1].id",
        ]
    )
    message = str(info.value)
    assert message.startswith("metadata validation failed with 9 problems:")
    for needle in (
        "'title' is a required property",
        "'colour' was unexpected",
        "'hg19' is not one of",
        "'PMID1' does not match",
        "'extra' was unexpected",
        "'3.0' does not match",
        "'data_frame' is a required property",
        "$.applications.takane: ",
        "$.sources[1].id: ",
        "$.genome[1]: ",
    ):
        assert needle in message


@pytest.mark.parametrize(
    ("takane", "ok"),
    [
        ({"type": "summarized_experiment", "summarized_experiment": {"rows": 2, "columns": 3, "assays": ["x"]}}, True),
        ({"type": "summarized_experiment"}, False),
        ({"type": "single_cell_experiment", "summarized_experiment": {"rows": 1, "columns": 1}}, False),
        (
            {
                "type": "single_cell_experiment",
                "summarized_experiment": {"rows": 1, "columns": 1},
                "single_cell_experiment": {"reduced_dimensions": ["PCA"]},
            },
            True,
        ),
        ({"type": "data_frame", "data_frame": {"rows": 5, "column_names": ["a"]}}, True),
        ({"type": "data_frame", "data_frame": {"rows": -1, "column_names": ["a"]}}, False),
        ({"type": "rds_file", "rds_file": {"class": "GRanges"}}, True),
        ({"type": "other", "data_frame": {"rows": 5, "column_names": []}}, False),
    ],
)
def test_takane_rules(takane: dict, ok: bool) -> None:
    doc = {**REFERENCE_DOC, "applications": {"takane": takane, "other_app": {"anything": 1}}}
    if ok:
        assert validate_metadata(doc, SCHEMA_PATH)
    else:
        with pytest.raises(GypsumMetadataError, match=r"\$\.applications\.takane"):
            validate_metadata(doc, SCHEMA_PATH)


@pytest.mark.parametrize(
    ("provider", "good", "bad"),
    [
        ("GEO", "GSM1", "GSX1"),
        ("SRA", "SRP12", "SRX12"),
        ("ArrayExpress", "E-MTAB-7", "E-GEOD-7"),
        ("PubMed", "12345", "012345"),
        ("ExperimentHub", "EH1", "AH1"),
        ("GitHub", "org/repo", "repo"),
        ("DOI", "10.1000/xyz.1", "10.1000 xyz"),
        ("URL", "https://example.org/x", "ftp://example.org"),
    ],
)
def test_source_id_patterns(provider: str, good: str, bad: str) -> None:
    assert validate_metadata({**REFERENCE_DOC, "sources": [{"provider": provider, "id": good}]}, SCHEMA_PATH)
    with pytest.raises(GypsumMetadataError, match=r"\$\.sources\[0\]\.id"):
        validate_metadata({**REFERENCE_DOC, "sources": [{"provider": provider, "id": bad}]}, SCHEMA_PATH)


def test_text_that_is_not_json_or_not_an_object() -> None:
    with pytest.raises(GypsumMetadataError, match="not valid JSON"):
        validate_metadata("{title: oops", SCHEMA_PATH)
    # stringify=True turns the text into a JSON string, which is not an object (as in gypsum_client).
    with pytest.raises(GypsumMetadataError, match="is not of type 'object'"):
        validate_metadata(json.dumps(REFERENCE_DOC), SCHEMA_PATH, stringify=True)


def test_schema_defaults_to_fetched_schema(static_server, tmp_path, monkeypatch) -> None:
    target = static_server.root / "bioconductor" / "v1.json"
    target.parent.mkdir()
    target.write_text(json.dumps({"type": "object", "required": ["only_this"]}))
    monkeypatch.setenv("GYPSUM_SCHEMA_URL", static_server.url)
    monkeypatch.setenv("GYPSUM_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(GypsumMetadataError, match="'only_this' is a required property"):
        validate_metadata(REFERENCE_DOC)
    assert (tmp_path / "cache" / "schemas" / "bioconductor" / "v1.json").is_file()
