"""The retry budget (docs/client.md, "The retry budget"): a server that keeps failing is given up on in time.

Requests are counted where they arrive, at the fault proxy. A 429 with
``Retry-After: 0`` is repeated at once, so the counts come fast; the 503s
(no ``Retry-After``) wait the real backoff, which bounds the time.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from faultproxy import Fault, FaultProxy
from prefect import flow
from testdata import write_files

from gypsum_flows import _http, client
from gypsum_flows.blocks import GypsumCredentials
from gypsum_flows.client.fetch import DOWNLOAD_ATTEMPTS
from gypsum_flows.errors import GypsumIntegrityError, GypsumTransientError
from gypsum_flows.tasks import fetch_latest
from gypsum_flows.tasks.policies import RETRY_BUDGET

BIG = b"0123456789abcdef" * (1 << 17)  # 2 MiB: streamed to disk, resumed with Range
#: What a run may take beyond its waits: the requests themselves and, for a task, Prefect's own calls.
SLACK = 10.0


@pytest.fixture(scope="module")
def published(gypsum_server, tmp_path_factory):
    """A version with a small and a big file: ``(project, asset, version)``."""
    project = "budget-" + str(time.time_ns())[-8:]
    client.create_project(
        project, owners=[gypsum_server.logins["owner"]], url=gypsum_server.url, token=gypsum_server.tokens["admin"]
    )
    folder = write_files(tmp_path_factory.mktemp("budget"), {"small.txt": b"small", "big.bin": BIG})
    client.upload_directory(str(folder), project, "a", "v1", url=gypsum_server.url, token=gypsum_server.tokens["owner"])
    return project, "a", "v1"


@pytest.mark.parametrize(
    ("name", "call"),
    [
        ("a read", lambda p, url, cache: client.fetch_manifest(*p, cache_dir=False, url=url)),
        ("a listing", lambda p, url, cache: client.list_files(*p, url=url)),
        ("a version", lambda p, url, cache: client.save_version(*p, cache_dir=cache, url=url)),
        ("a state-changing call", lambda p, url, cache: client.refresh_usage(p[0], url=url, token="t")),
    ],
)
def test_every_request_is_sent_at_most_attempts_times(gypsum_server, published, tmp_path, name, call):
    with FaultProxy(gypsum_server.url, [Fault("429", rate=1.0, retry_after=0)]) as proxy:
        with pytest.raises(GypsumTransientError) as info:
            call(published, proxy.url, str(tmp_path / "cache"))
        assert len(proxy.log) == _http.ATTEMPTS, name  # the first request used its budget; nothing else was sent
    assert info.value.attempts == _http.ATTEMPTS


def test_a_download_that_keeps_breaking_off_is_resumed_within_the_same_budget(gypsum_server, published, tmp_path):
    project, asset, version = published
    with FaultProxy(gypsum_server.url, [Fault("truncate", pattern=r"big\.bin", rate=1.0)]) as proxy:
        with pytest.raises(GypsumTransientError, match="network error") as info:
            client.save_file(project, asset, version, "big.bin", cache_dir=str(tmp_path), url=proxy.url)
        # Resumed with Range after each break, but not given fresh retries for each resumption.
        assert proxy.requests_matching(r"big\.bin") == _http.ATTEMPTS
    assert info.value.attempts == _http.ATTEMPTS
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp") or p.name == "big.bin"]


def test_a_download_that_keeps_arriving_corrupted_is_fetched_again_a_few_times(gypsum_server, published, tmp_path):
    project, asset, version = published
    with FaultProxy(gypsum_server.url, [Fault("corrupt", pattern=r"big\.bin", rate=1.0)]) as proxy:
        with pytest.raises(GypsumIntegrityError, match="MD5") as info:
            client.save_file(project, asset, version, "big.bin", cache_dir=str(tmp_path), url=proxy.url)
        assert proxy.requests_matching(r"big\.bin") == DOWNLOAD_ATTEMPTS
    assert info.value.attempts == DOWNLOAD_ATTEMPTS


def test_a_task_against_a_server_that_always_fails_gives_up_within_the_budget(
    prefect_harness, gypsum_server, published, tmp_path
):
    """Across every layer: the transport's backoff, then the task, which does not run again."""
    project, asset, _ = published

    @flow
    def read_latest(url: str):
        # A task without a cache policy: a cached read's key needs a summary, one more request of its own.
        return fetch_latest(project, asset, credentials=GypsumCredentials(url=url), return_state=True)

    with FaultProxy(gypsum_server.url, [Fault("503", rate=1.0)]) as proxy:
        started = time.monotonic()
        state = read_latest(proxy.url, return_state=True).result(raise_on_failure=False)
        elapsed = time.monotonic() - started
        sent = len(proxy.log)
    assert state.is_failed()
    assert isinstance(state.result(raise_on_failure=False), GypsumTransientError)
    assert sent == _http.ATTEMPTS <= RETRY_BUDGET
    # The waits of the backoff (first repeat at once, then 0.5, 1, 2, 4, 8 s, each plus some jitter).
    assert _http.worst_wait() - _http.ATTEMPTS * _http.JITTER <= elapsed <= _http.worst_wait() + SLACK


def test_the_documented_budget_is_the_one_in_code():
    doc = (Path(__file__).parents[2] / "docs" / "client.md").read_text()
    stated = {
        f"{_http.ATTEMPTS} sends of one request": True,
        f"at most {_http.worst_wait():g} s of waiting ({_http.MAX_WAIT * (_http.ATTEMPTS - 1):g} s": True,
        f"{DOWNLOAD_ATTEMPTS} deliveries with the wrong bytes": True,
        f"`RETRY_BUDGET` = {RETRY_BUDGET}": True,
    }
    assert {text: text in " ".join(doc.split()) for text in stated} == stated
