"""Progress reporting: callbacks from several threads, rollbacks, and quiet unless asked in a terminal."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from gypsum_flows.progress import Reporter, TransferProgress


def test_callback_counts_from_many_threads_and_rolls_back():
    seen: list[TransferProgress] = []
    with Reporter("x", files_total=100, bytes_total=1000, progress=seen.append) as report:
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda i: (report.add_bytes(10, f"f{i}"), report.file_done(f"f{i}")), range(100)))
        report.add_bytes(-10)
        report.file_done("again", unreported_bytes=10)
    assert seen[-1] == TransferProgress(101, 100, 1000, 1000, "again")
    assert len(seen) == 202


def test_quiet_without_a_terminal(capsys):
    with Reporter("x", files_total=1, bytes_total=1, progress=True) as report:
        report.add_bytes(1)
        report.file_done("a")
    assert report._bar is None
    assert capsys.readouterr() == ("", "")
