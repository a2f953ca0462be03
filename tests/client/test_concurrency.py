"""Several processes saving one version into one cache at once: all succeed, all files intact."""

from __future__ import annotations

import multiprocessing
import os

import pytest
from client_helpers import cache_files, save_and_check
from polling import wait_until
from testdata import write_files

from gypsum_flows import client


def test_four_processes_save_one_version_into_one_cache(project, gypsum_server, tmp_path):
    url, owner = gypsum_server.url, gypsum_server.tokens["owner"]
    files = {f"d{i % 4}/f{i}.bin": os.urandom(1000 + i * 20_000) for i in range(24)}
    client.upload_directory(str(write_files(tmp_path / "src", files)), project, "a", "v1", url=url, token=owner)
    cache = str(tmp_path / "cache")
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        results = pool.starmap(save_and_check, [(project, "a", "v1", cache, url)] * 4)
    assert all(result == {path: True for path in files} for result in results)
    assert not [f for f in cache_files(tmp_path / "cache") if f.endswith(".tmp")]
    assert os.path.exists(os.path.join(cache, "status", project, "a", "v1", "COMPLETE"))


def test_save_version_waits_for_the_version_lock(basic, tmp_path):
    import threading

    from filelock import FileLock

    cache = tmp_path / "cache"
    lock = FileLock(str(cache / "status" / basic.project / "basic" / "v1.LOCK"))  # gypsum_client's path
    lock.acquire()
    worker = threading.Thread(
        target=client.save_version,
        args=(basic.project, "basic", "v1"),
        kwargs={"cache_dir": str(cache), "url": basic.url},
    )
    try:
        worker.start()
        worker.join(1.0)
        assert worker.is_alive()
        assert not (cache / "status" / basic.project / "basic" / "v1" / "COMPLETE").exists()
    finally:
        lock.release()
    worker.join(30)
    assert not worker.is_alive()
    assert (cache / "status" / basic.project / "basic" / "v1" / "COMPLETE").exists()


def test_run_parallel_spreads_work_and_stops_at_the_first_failure():
    import threading

    from gypsum_flows.client._util import run_parallel

    seen, names = [], set()
    meeting = threading.Barrier(4, timeout=60)  # the first four items wait for each other: four threads at once

    def work(item: int) -> None:
        names.add(threading.current_thread().name)
        if item < 4:
            meeting.wait()
        seen.append(item)

    run_parallel(range(40), work, concurrent=4)
    assert sorted(seen) == list(range(40)) and len(names) == 4

    started, failing = [], []

    def fail_on_five(item: int) -> None:
        started.append(item)
        if item == 5:
            failing.append(threading.current_thread())
            raise ValueError("item 5 is broken")
        if item > 5:  # taken before the failure was known: finish only once the failing thread has stopped
            wait_until(lambda: failing and not failing[0].is_alive(), "the failing thread to stop the others")

    with pytest.raises(ValueError, match="item 5 is broken"):
        run_parallel(range(100), fail_on_five, concurrent=3)
    # Items already taken finish; nothing after the failure's neighbours starts.
    assert 5 in started and max(started) < 5 + 3
