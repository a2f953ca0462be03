"""publish-batch through a misbehaving proxy: everything published exactly as without faults, nothing left over."""

from __future__ import annotations

import time

from faultproxy import Fault, FaultProxy
from resilience_helpers import assert_clean, asset_files, server_manifests, write_batch
from testdata import write_files

from gypsum_flows import client
from gypsum_flows.blocks import GypsumCredentials
from gypsum_flows.flows import BatchFailedError, publish_batch

#: One in ten requests misbehaves, in five ways (each rule draws on the requests the earlier ones spared).
FAULT_MIX = [
    Fault("503", rate=0.02),
    Fault("429", rate=0.0204, retry_after=1),
    Fault("reset", rate=0.0208),
    Fault("slow", rate=0.0213, delay=0.5),
    Fault("truncate", rate=0.0217),
]


def _publish(server, url: str, spec) -> list:
    credentials = GypsumCredentials(url=url, token=server.tokens["admin"], cache_dir=str(spec.parent / "cache"))
    return publish_batch(str(spec), credentials=credentials)


def _fault_free(server, projects: list[str], per_project: int, folder) -> dict[str, dict]:
    """The manifests a fault-free upload of the same assets gives (plain client, straight to the server)."""
    for p, project in enumerate(projects):
        for a in range(per_project):
            seed = p * per_project + a
            source = write_files(folder / f"asset{seed}", asset_files(seed))
            client.upload_directory(
                str(source),
                project,
                f"asset{seed}",
                "v1",
                url=server.url,
                token=server.tokens["admin"],
                cache_dir=str(folder / "cache"),
            )
    return server_manifests(server, projects)


def test_batch_of_20_assets_survives_10_percent_faults(
    prefect_harness, make_gypsum_server, make_project, tmp_path, monkeypatch
):
    # A reset or truncated answer to an upload start loses a lock the server took: the batch clears it once it
    # is stale by recover's rule (see the next test), shortened here from 15 minutes to 5 seconds.
    monkeypatch.setenv("GYPSUM_STALE_LOCK_AGE", "5s")
    clean_server, faulty_server = make_gypsum_server(), make_gypsum_server()
    clean_projects = [make_project(clean_server) for _ in range(4)]
    faulty_projects = [make_project(faulty_server) for _ in range(4)]
    expected = _fault_free(clean_server, clean_projects, 5, tmp_path / "clean")
    assert len(expected) == 20

    started = time.monotonic()
    with FaultProxy(faulty_server.url, FAULT_MIX, seed=8) as proxy:
        try:
            outcomes = _publish(faulty_server, proxy.url, write_batch(tmp_path / "faulty", faulty_projects, 5))
        except BatchFailedError as exc:
            hit = [(path.rsplit("/", 2)[-2], kind) for method, path, kind in proxy.log if kind and "/start/" in path]
            raise AssertionError(f"{exc}\nfaults on upload starts: {hit}") from None
    injected, seen = sum(proxy.counts.values()), len(proxy.log)

    print(f"\n{seen} requests, {injected} faults {dict(proxy.counts)}, {time.monotonic() - started:.1f} s")
    assert 0.04 <= injected / seen <= 0.16 and len(proxy.counts) >= 4
    assert [o.outcome for o in outcomes] == ["published"] * 20
    assert server_manifests(faulty_server, faulty_projects) == expected
    assert_clean(faulty_server, faulty_projects)


def test_lost_answer_to_an_upload_start_does_not_stall_the_batch(
    prefect_harness, fresh_gypsum_server, make_project, tmp_path, monkeypatch
):
    """The server took the lock but its answer never arrived: no one knows that session's token.

    Every later start in the project gets 403 "already locked" until the batch
    (admin credentials) clears the lock its own lost start left, once it is
    stale by recover's rule (shortened here from 15 minutes to 5 seconds).
    """
    monkeypatch.setenv("GYPSUM_STALE_LOCK_AGE", "5s")
    server = fresh_gypsum_server
    projects = [make_project(server)]
    rules = [Fault("truncate", first=1, pattern=r"^POST /upload/start/")]
    with FaultProxy(server.url, rules) as proxy:
        outcomes = _publish(server, proxy.url, write_batch(tmp_path, projects, 3))
    assert proxy.counts["truncate"] == 1
    assert [o.outcome for o in outcomes] == ["published"] * 3
    assert_clean(server, projects)
    assert len(server_manifests(server, projects)) == 3
