"""Shared fixtures: a live local gypsum server over real HTTP, and a real Prefect.

Environment isolation happens at import, before anything reads it: a private
PREFECT_HOME (so cached task results never leak between sessions) and a
private gypsum cache folder.
"""

from __future__ import annotations

import os
import re
import secrets
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

_SESSION_DIR = Path(tempfile.mkdtemp(prefix="gypsum-flows-tests-"))
os.environ["PREFECT_HOME"] = str(_SESSION_DIR / "prefect-home")
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"] = "300"  # the demo's, on a loaded machine
os.environ["GYPSUM_CACHE_DIR"] = str(_SESSION_DIR / "default-cache")
for _name in ("GYPSUM_REST_URL", "GYPSUM_TOKEN", "GITHUB_TOKEN", "PREFECT_API_URL"):
    os.environ.pop(_name, None)

#: The quick subset (``python -m pytest -m quick``, about two minutes): the client, server, metadata, index,
#: spec, recovery and command-line unit tests, by path below tests/. Not the Prefect flows end to end,
#: deployments, scale, Snakemake or resilience suites; the whole suite stays the test command.
QUICK = (
    "client/",
    "server/",
    "metadata/",
    "index/",
    "cli/test_cli_inspect.py",
    "cli/test_cli_project.py",
    "cli/test_cli_server.py",
    "flows/test_spec.py",
    "lifecycle/test_key_rule.py",
    "recover/test_recover.py",
    "recover/test_settle_version.py",
    "tasks/test_tasks_options.py",
)
#: Inside QUICK but slow: resumable uploads through rounds of injected faults (about a minute).
NOT_QUICK = ("client/test_resume_upload.py",)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the tests of the quick subset ``quick``."""
    tests = Path(__file__).parent
    for item in items:
        where = item.path.relative_to(tests).as_posix() if item.path.is_relative_to(tests) else ""
        if where.startswith(QUICK) and not where.startswith(NOT_QUICK):
            item.add_marker(pytest.mark.quick)


#: Logins in the test users file, by role. Tokens are random per session.
ROLES = {
    "admin": {"login": "gypsum-admin", "orgs": []},
    "org_admin": {"login": "org-boss", "orgs": ["admin-org"]},
    "owner": {"login": "owner-user", "orgs": []},
    "uploader": {"login": "untrusted-user", "orgs": []},
    "trusted": {"login": "trusted-user", "orgs": []},
    "org_member": {"login": "org-member", "orgs": ["test-org"]},
    "stranger": {"login": "stranger", "orgs": []},
}


@dataclass
class GypsumTestServer:
    """A running local gypsum server and the identities it knows."""

    url: str
    root: Path
    users_file: Path
    tokens: dict[str, str]
    logins: dict[str, str]
    handle: object = field(repr=False)

    @property
    def request_log(self) -> list[tuple[str, str]]:
        """(method, raw path) of every request the server answered, in order."""
        return self.handle.request_log

    def auth(self, role: str) -> dict[str, str]:
        """The Authorization header for ``role``."""
        return {"Authorization": f"Bearer {self.tokens[role]}"}


def write_users_file(path: Path) -> dict[str, str]:
    """Write a users file with one identity per role; returns role -> token."""
    tokens = {role: secrets.token_urlsafe(24) for role in ROLES}
    doc = {
        "admins": [ROLES["admin"]["login"], "admin-org"],
        "users": [{"login": r["login"], "token": tokens[k], "orgs": r["orgs"]} for k, r in ROLES.items()],
    }
    path.write_text(yaml.safe_dump(doc))
    return tokens


@pytest.fixture(scope="session")
def make_gypsum_server(tmp_path_factory) -> Iterator[Callable[[], GypsumTestServer]]:
    """A factory for fresh servers, each on its own empty root and free port."""
    from gypsum_flows.server import serve_in_thread

    started = []

    def make() -> GypsumTestServer:
        base = tmp_path_factory.mktemp("gypsum-server")
        users_file = base / "users.yaml"
        tokens = write_users_file(users_file)
        handle = serve_in_thread(root=base / "root", users_file=users_file, host="127.0.0.1", port=0)
        started.append(handle)
        logins = {k: r["login"] for k, r in ROLES.items()}
        return GypsumTestServer(handle.url, base / "root", users_file, tokens, logins, handle)

    yield make
    for handle in started:
        handle.stop()


@pytest.fixture(scope="session")
def gypsum_server(make_gypsum_server) -> GypsumTestServer:
    """One server shared by the session; tests use unique project names on it."""
    return make_gypsum_server()


@pytest.fixture
def fresh_gypsum_server(make_gypsum_server) -> GypsumTestServer:
    """A server of this test's own, for tests that count requests or list everything."""
    return make_gypsum_server()


@pytest.fixture
def unique_name(request) -> Callable[[str], str]:
    """Project names unique to this test: ``unique_name("proj")``."""
    # Parametrized ids can hold any character; keep names safe for every endpoint.
    stem = re.sub(r"[^a-z0-9-]+", "-", request.node.name.lower()).strip("-")[:40]

    def make(prefix: str = "p") -> str:
        return f"{prefix}-{stem}-{secrets.token_hex(3)}"

    return make


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """One real Prefect API server (temporary SQLite) for the whole session.

    Only tests that run tasks or flows ask for it (through the autouse
    fixtures in ``tests/tasks`` and ``tests/flows``), so the server and client
    suites never pay its start-up.
    """
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=180):
        yield
