"""Fan-out end to end: PostgreSQL, ``prefect server start``, a process pool, three workers, batches as the CLI."""

from __future__ import annotations

import os
import re
import signal
import time

import pytest
from scale_helpers import (
    BLOCK,
    Job,
    assert_complete_once,
    assert_no_lock_left,
    assert_order_kept,
    assert_sessions_never_overlapped,
    create_projects,
    finish_batch,
    flow_runs,
    run_logs,
    start_batch,
    wait_for,
    worker_of,
    write_spec,
)

from gypsum_flows.flows.project_slots import LEASE_SECONDS

#: Minutes: a few on a quiet 2-core machine, many more when others share it (each asset run is a fresh process).
pytestmark = [pytest.mark.slow, pytest.mark.timeout(2400)]


def grid(projects: list[str], assets: int, version: str = "v1") -> list[Job]:
    """``assets`` assets per project, listed project after project."""
    return [Job(project, f"a{i}", version) for project in projects for i in range(assets)]


def test_a_fanned_out_batch_runs_on_several_workers_in_project_order(cluster, unique_name, tmp_path):
    projects = [unique_name(f"p{i}") for i in range(4)]
    create_projects(cluster, projects)
    # Interleaved in the spec, as a consortium's release lists them; order within a project is the spec's.
    jobs = [Job(p, f"a{i}", "v1") for i in range(3) for p in projects]
    spec = write_spec(tmp_path, jobs)

    code, outcomes = finish_batch(start_batch(cluster, spec, "grid"), cluster, "grid")

    assert code == 0, outcomes
    assert [(o["project"], o["asset"], o["outcome"]) for o in outcomes] == [
        (j.project, j.asset, "published") for j in jobs
    ]
    assert all(o["files_uploaded"] == 2 for o in outcomes)
    runs = [r for p in projects for r in flow_runs(cluster, f"publish-asset-{p}")]
    assert len(runs) == len(jobs) and all(r["state_type"] == "COMPLETED" for r in runs)
    workers = {worker_of(cluster, run) for run in runs}
    assert None not in workers and len(workers) >= 2, workers
    found = assert_complete_once(cluster, jobs)
    assert_order_kept(cluster, found, jobs)
    assert_no_lock_left(cluster, projects)
    assert_sessions_never_overlapped(cluster, projects)

    # Re-running is idempotent: every asset is reported unchanged, and no new upload session starts.
    sessions = len(cluster.gypsum.handle.lock_history)
    code, again = finish_batch(start_batch(cluster, spec, "grid-again"), cluster, "grid-again")
    assert code == 0 and {o["outcome"] for o in again} == {"unchanged"}, again
    assert [e for e in list(cluster.gypsum.handle.lock_history)[sessions:] if e[1] == "locked"] == []


def test_two_batches_sharing_a_project_take_turns(cluster, unique_name, tmp_path):
    shared, only_a, only_b = (unique_name(n) for n in ("shared", "left", "right"))
    create_projects(cluster, [shared, only_a, only_b])
    same = Job(shared, "common", "v1")  # in both specs, from the same folder: one publishes, one finds it unchanged
    spec_a = write_spec(tmp_path / "a", [same, Job(shared, "from-a", "v1"), Job(only_a, "x", "v1")])
    common = {same: tmp_path / "a" / "data" / shared / "common" / "v1"}
    spec_b = write_spec(tmp_path / "b", [Job(shared, "from-b", "v1"), same, Job(only_b, "y", "v1")], common)

    # b publishes a's folder for the shared asset, so it must allow folders outside its own (the workers too).
    batches = [start_batch(cluster, spec_a, "left"), start_batch(cluster, spec_b, "right", BLOCK, "--allow-outside")]
    (code_a, out_a), (code_b, out_b) = (
        finish_batch(p, cluster, n) for p, n in zip(batches, ("left", "right"), strict=True)
    )

    assert (code_a, code_b) == (0, 0), (out_a, out_b)
    outcome = {(o["project"], o["asset"]): o["outcome"] for o in out_a + out_b if o["asset"] != "common"}
    assert set(outcome.values()) == {"published"}
    common_outcomes = sorted(o["outcome"] for o in out_a + out_b if o["asset"] == "common")
    assert common_outcomes == ["published", "unchanged"]
    jobs = [
        same,
        Job(shared, "from-a", "v1"),
        Job(shared, "from-b", "v1"),
        Job(only_a, "x", "v1"),
        Job(only_b, "y", "v1"),
    ]
    assert_complete_once(cluster, jobs)
    assert_sessions_never_overlapped(cluster, [shared, only_a, only_b])
    assert_no_lock_left(cluster, [shared, only_a, only_b])


def test_a_worker_killed_mid_asset_then_a_rerun_completes(cluster, unique_name, tmp_path):
    projects = [unique_name("victim"), unique_name("bystander")]
    create_projects(cluster, projects)
    jobs = grid(projects, 2)
    victim = jobs[0]
    spec = write_spec(tmp_path, jobs)
    # The victim's upload starts (the project is locked, the version listed) but its answer is held back.
    cluster.proxy.set_faults([cluster.slow_start(victim)])

    batch = start_batch(cluster, spec, "killed", block="gypsum-proxied")
    wait_for(
        lambda: any(
            e[1:] == ("locked", victim.project, victim.asset, victim.version)
            for e in cluster.gypsum.handle.lock_history
        ),
        300,
        f"the upload of {victim.label}",
    )
    [run] = wait_for(
        lambda: [
            r
            for r in flow_runs(cluster, f"publish-asset-{victim.project}-{victim.asset}")
            if r["state_type"] == "RUNNING"
        ],
        60,
        "the victim's run",
    )
    [worker] = [w for w in cluster.workers if w.name == worker_of(cluster, run)]
    worker.kill()
    killed_at = time.time()
    os.killpg(batch.pid, signal.SIGKILL)  # its wait on the dead run would never end: the operator restarts it
    batch.wait(30)
    cluster.proxy.set_faults([])
    worker.start()

    code, outcomes = finish_batch(start_batch(cluster, spec, "rerun"), cluster, "rerun")

    assert code == 0, outcomes
    assert {(o["asset"], o["outcome"]) for o in outcomes if o["project"] == victim.project} >= {("a0", "published")}
    assert_complete_once(cluster, jobs)
    assert_no_lock_left(cluster, projects)
    # The re-run waited for the dead run's slot no longer than its lease (plus the server's check and a margin).
    [rerun] = [
        r
        for r in flow_runs(cluster, f"publish-asset-{victim.project}-{victim.asset}")
        if r["state_type"] == "COMPLETED"
    ]
    waits = [float(m) for m in re.findall(r"waited ([0-9.]+) s for its slot", run_logs(cluster, rerun["id"]))]
    assert all(w < LEASE_SECONDS + 30 for w in waits), waits
    relocked = [
        e[0]
        for e in cluster.gypsum.handle.lock_history
        if e[1:] == ("locked", victim.project, victim.asset, victim.version) and e[0] > killed_at
    ]
    assert relocked, "the victim was not uploaded again"
