"""Retries proven against a real misbehaving proxy: transient failures are retried, refusals are not.

Attempt counts come from two independent sides: the task run's ``run_count``
in the Prefect API, and the requests the proxy saw.
"""

from __future__ import annotations

import pytest
from faultproxy import Fault, FaultProxy
from prefect import flow
from task_helpers import task_run_of
from testdata import write_files

from gypsum_flows import _http, client
from gypsum_flows.blocks import GypsumCredentials
from gypsum_flows.errors import (
    GypsumInvalidRequestError,
    GypsumNotFoundError,
    GypsumPermissionError,
    GypsumQuotaExceededError,
)
from gypsum_flows.tasks import (
    create_project,
    fetch_latest,
    public_s3_config,
    refresh_usage,
    save_file,
    upload_version,
)
from gypsum_flows.tasks.policies import retry_if_transient

#: No waiting between attempts in tests; the backoff itself is checked in test_options.
FAST = {"retry_delay_seconds": 0}


@pytest.fixture
def proxy(gypsum_server):
    with FaultProxy(gypsum_server.url) as running:
        yield running


def via(proxy: FaultProxy, server, role: str | None, cache_dir) -> GypsumCredentials:
    """Credentials that reach ``server`` through ``proxy``."""
    return GypsumCredentials(url=proxy.url, token=server.tokens[role] if role else None, cache_dir=str(cache_dir))


def test_transient_failures_are_retried_until_success(gypsum_server, proxy, unique_name, publish, cache_dir):
    project = unique_name("flaky")
    publish(gypsum_server, project, "basic", "v1", {"a.txt": b"0123456789", "b.txt": b"bravo"})
    # Each reset fails one attempt: the client does not repeat a POST whose fate it cannot know.
    proxy.set_faults(
        [
            Fault("reset", pattern=rf"^POST /refresh/usage/{project}$", first=2),
            Fault("corrupt", pattern=rf"^GET /file/{project}%2Fbasic%2Fv1%2Fb.txt$", first=2),
        ]
    )
    admin = via(proxy, gypsum_server, "admin", cache_dir)

    @flow
    def flaky() -> tuple:
        usage = refresh_usage.with_options(**FAST)(project, credentials=admin, return_state=True)
        # Two corrupted downloads are fetched again by the client itself, within one task run.
        saved = save_file.with_options(**FAST)(project, "basic", "v1", "b.txt", credentials=admin, return_state=True)
        return usage, saved

    usage, saved = flaky()
    assert usage.result() == 15
    assert task_run_of(usage).run_count == 3
    assert proxy.requests_matching(rf"^POST /refresh/usage/{project}$") == 3
    assert open(saved.result(), "rb").read() == b"bravo"
    assert task_run_of(saved).run_count == 1
    assert proxy.requests_matching(rf"^GET /file/{project}%2Fbasic%2Fv1%2Fb.txt$") == 3


def test_refusals_are_attempted_exactly_once(gypsum_server, proxy, unique_name, publish, cache_dir, tmp_path):
    project = unique_name("refuse")
    publish(gypsum_server, project, "basic", "v1", {"a.txt": b"a"})
    client.set_quota(project, baseline=100, growth_rate=0, url=gypsum_server.url, token=gypsum_server.tokens["admin"])
    big = write_files(tmp_path / "big", {"big.bin": b"x" * 500})

    @flow
    def refused() -> dict:
        return {
            "403": refresh_usage(
                project, credentials=via(proxy, gypsum_server, "stranger", cache_dir), return_state=True
            ),
            "400": create_project(
                project, owners=["x"], credentials=via(proxy, gypsum_server, "admin", cache_dir), return_state=True
            ),
            "404": fetch_latest(
                project, "missing", credentials=via(proxy, gypsum_server, None, cache_dir), return_state=True
            ),
            "no s3": public_s3_config(credentials=via(proxy, gypsum_server, None, cache_dir), return_state=True),
            "quota": upload_version(
                str(big),
                project,
                "basic",
                "v2",
                credentials=via(proxy, gypsum_server, "owner", cache_dir),
                return_state=True,
            ),
        }

    states = refused()
    expected = {
        "403": (GypsumPermissionError, rf"^POST /refresh/usage/{project}$"),
        "400": (GypsumInvalidRequestError, rf"^POST /create/{project}$"),
        "404": (GypsumNotFoundError, rf"^GET /file/{project}%2Fmissing%2F..latest$"),
        "no s3": (GypsumNotFoundError, r"^GET /credentials/s3-api$"),
        "quota": (GypsumQuotaExceededError, rf"^POST /upload/start/{project}/basic/v2$"),
    }
    for label, (error, pattern) in expected.items():
        state = states[label]
        assert state.is_failed(), label
        assert isinstance(state.result(raise_on_failure=False), error), label
        assert task_run_of(state).run_count == 1, label
        assert proxy.requests_matching(pattern) == 1, label


def test_a_locked_project_is_waited_for(gypsum_server, proxy, unique_name, publish, cache_dir, tmp_path):
    project = unique_name("locked")
    publish(gypsum_server, project, "basic", "v1", {"a.txt": b"abc"})
    folder = write_files(tmp_path / "v2", {"new.txt": b"new"})
    # Another upload session holds the project lock until the first refresh attempt has been refused.
    session = client.start_upload(
        project,
        "basic",
        "v2",
        ["new.txt"],
        directory=str(folder),
        url=gypsum_server.url,
        token=gypsum_server.tokens["owner"],
    )
    pattern = rf"^POST /refresh/usage/{project}$"

    def release_after_first_refusal(task, task_run, state) -> bool:
        """Decide as every gypsum task does; after the first refusal, release the lock first (before the retry)."""
        if task_run.run_count == 1:
            client.abort_upload(session, url=gypsum_server.url)
        return retry_if_transient(task, task_run, state)

    @flow
    def wait_for_lock():
        patient = refresh_usage.with_options(**FAST, retry_condition_fn=release_after_first_refusal)
        return patient(project, credentials=via(proxy, gypsum_server, "admin", cache_dir), return_state=True)

    state = wait_for_lock()
    assert state.result() == 3
    assert task_run_of(state).run_count == 2
    assert proxy.requests_matching(pattern) == 2


def test_upload_version_aborts_and_is_not_run_again_after_the_client_gave_up(
    gypsum_server, proxy, unique_name, publish, cache_dir, tmp_path
):
    project = unique_name("upretry")
    publish(gypsum_server, project, "basic", "v1", {"a.txt": b"abc", "deep/c.txt": b"charlie"})
    folder = write_files(tmp_path / "v2", {"a.txt": b"abc", "b.txt": b"bravo", "deep/c.txt": b"charlie"})
    # Every answer to the signing of the one new file breaks off: the client spends that request's whole
    # budget, the round confirmed nothing, so the session is aborted and the task, which would only multiply
    # the budget, is not run again (docs/client.md, "The retry budget").
    proxy.set_faults([Fault("truncate", pattern=r"^POST /upload/presigned-file/", rate=1.0)])

    @flow
    def publish_v2():
        upload = upload_version.with_options(**FAST)
        return upload(
            str(folder),
            project,
            "basic",
            "v2",
            credentials=via(proxy, gypsum_server, "owner", cache_dir),
            return_state=True,
        )

    state = publish_v2(return_state=True).result(raise_on_failure=False)
    assert state.is_failed() and state.result(raise_on_failure=False).attempts == _http.ATTEMPTS
    assert task_run_of(state).run_count == 1
    steps = [path.split("/")[2] for method, path, _ in proxy.log if path.startswith("/upload/") and method == "POST"]
    assert steps == ["start"] + ["presigned-file"] * _http.ATTEMPTS + ["abort"]
    assert client.list_versions(project, "basic", url=gypsum_server.url) == ["v1"]
    assert not (gypsum_server.root / project / "..LOCK").exists()


def test_retries_can_be_lowered_with_with_options(gypsum_server, proxy, unique_name, publish, cache_dir):
    project = unique_name("fewer")
    publish(gypsum_server, project, "basic", "v1", {"a.txt": b"a"})
    proxy.set_faults([Fault("reset", pattern=rf"^POST /refresh/usage/{project}$", first=5)])

    @flow
    def impatient():
        once_more = refresh_usage.with_options(retries=1, **FAST)
        return once_more(project, credentials=via(proxy, gypsum_server, "admin", cache_dir), return_state=True)

    state = impatient(return_state=True).result(raise_on_failure=False)
    assert state.is_failed()
    assert task_run_of(state).run_count == 2
    assert proxy.requests_matching(rf"^POST /refresh/usage/{project}$") == 2
