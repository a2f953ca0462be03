"""Fixtures of the recovery tests: a project owned by the ``owner`` role.

The recovery tests reuse the flow tests' helpers (locks made old) and the resilience tests' (asset folders,
batches, what the server holds), as the lifecycle tests do.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path[:0] = [str(Path(__file__).parents[1] / "flows"), str(Path(__file__).parents[1] / "resilience")]


@pytest.fixture
def make_project(unique_name):
    """``make_project(server)`` -> a new project on ``server`` owned by the ``owner`` role."""
    from flows_helpers import create_project  # through the path above

    return lambda server, prefix="r": create_project(server, unique_name(prefix))
