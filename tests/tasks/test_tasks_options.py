"""The typed client and the task layer mirror the client exactly, and every task carries the agreed options."""

from __future__ import annotations

import inspect

import gypsum_client
import pytest
from prefect.cache_policies import NO_CACHE
from prefect.states import Failed

from gypsum_flows import client, errors, tasks
from gypsum_flows.client_view import GypsumClient
from gypsum_flows.tasks.policies import retry_if_transient

#: Functions that configure the process rather than operate on a server: no tasks.
CONFIGURATION = {"access_token", "set_access_token", "cache_directory", "rest_url"}
#: Every operation of the reference client, plus the R client's unlock_project.
OPERATIONS = sorted(
    {name for name, fn in inspect.getmembers(gypsum_client, inspect.isfunction) if not name.startswith("_")}
    - CONFIGURATION
    | {"unlock_project"}
)
#: Settings the typed client supplies to every function that takes them.
SETTINGS = {"url", "token", "cache_dir"}
#: Their ``url`` is the metadata index's or the schemas' host, not the gypsum server's: the caller's to give.
OWN_URL = {"fetch_metadata_database", "fetch_metadata_schema"}
WRITES = {
    "create_project",
    "set_permissions",
    "set_quota",
    "approve_probation",
    "reject_probation",
    "refresh_latest",
    "refresh_usage",
    "remove_project",
    "remove_asset",
    "remove_version",
    "unlock_project",
    "start_upload",
    "upload_files",
    "complete_upload",
    "abort_upload",
    "upload_version",
    "upload_directory",
}
SESSION_STEPS = {"start_upload", "upload_files", "complete_upload", "abort_upload"}
LOCAL = {"prepare_directory_upload", "validate_metadata", "define_text_query", "search_metadata_text"}
CACHED = {"fetch_manifest", "fetch_summary", "list_files", "save_file", "save_version"}


def test_every_client_operation_has_a_task_of_the_same_name():
    assert sorted(set(tasks.__all__) - {"upload_version"}) == OPERATIONS
    for name in tasks.__all__:
        assert getattr(tasks, name).name == name


@pytest.mark.parametrize("name", OPERATIONS)
def test_typed_methods_take_the_client_parameters_but_the_settings(name):
    supplied = SETTINGS - {"url"} if name in OWN_URL else SETTINGS
    ours = inspect.signature(getattr(GypsumClient, name))
    theirs = inspect.signature(getattr(client, name))
    # Names, kinds, defaults and annotations alike, in the client's order.
    assert [p for p in ours.parameters.values() if p.name != "self"] == [
        p for p in theirs.parameters.values() if p.name not in supplied
    ]
    assert ours.return_annotation == theirs.return_annotation


@pytest.mark.parametrize("name", OPERATIONS)
def test_task_parameters_are_the_typed_client_parameters_plus_credentials(name):
    ours = inspect.signature(getattr(tasks, name).fn).parameters
    typed = inspect.signature(getattr(GypsumClient, name)).parameters
    # A progress callback or bar means nothing in a task: its state is the progress.
    assert [p for p in ours if p != "credentials"] == [p for p in typed if p not in {"self", "progress"}]
    assert ours["credentials"].kind is inspect.Parameter.KEYWORD_ONLY and ours["credentials"].default is None
    for param, spec in ours.items():
        if param in typed and spec.kind is not inspect.Parameter.VAR_KEYWORD:
            assert spec.default == typed[param].default, f"{name}({param}=...) default differs from the client"


@pytest.mark.parametrize("name", tasks.__all__)
def test_tags_retries_and_caching_follow_the_kind_of_operation(name):
    task = getattr(tasks, name)
    assert task.tags == ({"gypsum", "gypsum-write"} if name in WRITES else {"gypsum"})
    assert task.retry_condition_fn is retry_if_transient
    if name in SESSION_STEPS | LOCAL:
        assert task.retries == 0
    else:
        assert task.retries == 3
        assert task.retry_delay_seconds == [2.0, 4.0, 8.0]
        assert task.retry_jitter_factor == 0.5
    if name in CACHED:
        assert task.cache_policy is not NO_CACHE and task.persist_result is True
    else:
        assert task.cache_policy is NO_CACHE and task.persist_result is False


@pytest.mark.parametrize("name", tasks.__all__)
def test_every_task_documents_an_example_using_it(name):
    doc = inspect.getdoc(getattr(tasks, name).fn)
    example = doc.split("Example:", 1)[1]
    assert f"{name}(" in example


def test_defaults_can_be_overridden_with_with_options():
    patient = tasks.fetch_latest.with_options(retries=10, retry_delay_seconds=[1, 2], retry_jitter_factor=0, tags={"x"})
    assert (patient.retries, patient.retry_delay_seconds, patient.retry_jitter_factor) == (10, [1, 2], 0)
    assert patient.retry_condition_fn is retry_if_transient
    assert patient.tags == {"x"}
    assert tasks.fetch_latest.retries == 3


@pytest.mark.parametrize(
    ("error", "retried"),
    [
        (errors.GypsumTransientError("network error", status=None), True),
        (errors.GypsumTransientError("slow down", status=429), True),
        (errors.GypsumTransientError("bad gateway", status=502), True),
        (errors.GypsumLockedError("project asset has already been locked", status=403), True),
        (errors.GypsumIntegrityError("arrived corrupted"), True),
        (errors.GypsumInvalidRequestError("bad body", status=400), False),
        (errors.GypsumPermissionError("not an owner", status=403), False),
        (errors.GypsumNotFoundError("no such version", status=404), False),
        (errors.GypsumQuotaExceededError("upload exceeds the storage quota for this project", status=400), False),
        (errors.GypsumNameError("bad name"), False),
        (ValueError("not gypsum at all"), False),
    ],
)
def test_only_transient_errors_are_retried(error, retried):
    assert retry_if_transient(None, None, Failed(data=error)) is retried
