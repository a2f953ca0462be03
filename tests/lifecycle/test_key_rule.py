"""The escaping rule of Prefect asset keys of gypsum versions, and the spec's ``inputs:``."""

from __future__ import annotations

import pytest
from prefect.assets import Asset

from gypsum_flows.batch import SpecError, load_spec
from gypsum_flows.errors import GypsumNameError
from gypsum_flows.names import parse_version_asset_key, version_asset_key

AWKWARD = [
    "zeisel brain",
    "100%",
    "a#b?c&d",
    "quote'\"",
    "[x]{y}|z^`",
    "semi;colon+plus@at",
    "tilde~",
    "日本",
    "tab\there",
]


@pytest.mark.parametrize("name", AWKWARD)
def test_every_name_round_trips_and_makes_a_key_prefect_accepts(name):
    key = version_asset_key("proj", name, f"v {name}")
    assert Asset(key=key).key == key  # Prefect's own key validation
    assert parse_version_asset_key(key) == ("proj", name, f"v {name}")


def test_plain_names_are_unchanged():
    assert version_asset_key("scrnaseq", "zeisel-brain", "2024-02-01_v1.2") == (
        "gypsum://scrnaseq/zeisel-brain/2024-02-01_v1.2"
    )


@pytest.mark.parametrize(
    "key",
    [
        "gypsum://p/a",
        "s3://p/a/v",
        "gypsum://p/a b/v",
        "gypsum://p/a~2/v",
        "gypsum://p/a~2e/v",
        "gypsum://p/..a/v",
        "gypsum://p//v",
    ],
)
def test_malformed_keys_are_refused(key):
    with pytest.raises(GypsumNameError):
        parse_version_asset_key(key)


def test_a_key_over_prefects_limit_is_refused_with_the_length():
    with pytest.raises(GypsumNameError, match="more than Prefect's 512"):
        version_asset_key("p", " " * 200, "v")


def test_spec_inputs_are_checked_and_resolved(tmp_path):
    (tmp_path / "data").mkdir()
    spec = tmp_path / "batch.yaml"
    spec.write_text(
        "defaults: {project: p, metadata: null}\nassets:\n"
        "  - asset: a\n    version: v2\n    directory: data\n"
        "    inputs: [gypsum://p/raw~20reads/v1, 'gypsum://p/raw reads/v1']\n"
    )
    with pytest.raises(SpecError) as caught:
        load_spec(spec)
    [problem] = caught.value.problems
    assert (problem.line, problem.field) == (6, "assets[0].inputs[1]") and "escaped" in problem.message
    spec.write_text(spec.read_text().replace(", 'gypsum://p/raw reads/v1'", ""))
    assert load_spec(spec).assets[0].inputs == ["gypsum://p/raw~20reads/v1"]
