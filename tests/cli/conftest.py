"""Fixtures of the CLI tests: the command line run in-process against a live local server."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from cli_helpers import Result, run_cli


@pytest.fixture
def cli(capsys, monkeypatch) -> Callable[..., Result]:
    """``cli(*args, token=None)``: run ``gypsum-flows args``; ``token`` goes in ``$CLI_TOKEN`` (``--token-env``)."""
    monkeypatch.delenv("CLI_TOKEN", raising=False)

    def run(*args: str, token: str | None = None) -> Result:
        if token is not None:
            monkeypatch.setenv("CLI_TOKEN", token)
        return run_cli(capsys, list(args))

    return run


@pytest.fixture
def admin_project(gypsum_server, unique_name, cli) -> str:
    """A new project owned by ``owner``, created through the CLI."""
    name = unique_name("cli")
    result = cli(
        "project",
        "create",
        name,
        "--owner",
        gypsum_server.logins["owner"],
        "--url",
        gypsum_server.url,
        "--token-env",
        "CLI_TOKEN",
        token=gypsum_server.tokens["admin"],
    )
    assert result.code == 0, result.err
    return name
