"""``gypsum-flows demo``, the README's main command: run as a user runs it, in a subprocess."""

from __future__ import annotations

import logging
import re
import sqlite3
import sysconfig
from pathlib import Path

import yaml
from deployments_helpers import SPECS, clean_env, run

from gypsum_flows.batch import load_spec
from gypsum_flows.cli.prefect_logging import HarmlessNoiseFilter
from gypsum_flows.cli.prefect_startup import LOGGING_FILE
from gypsum_flows.server import load_users

#: Output lines that report an error, in Prefect's log format or as a bare word.
ERROR_LINE = re.compile(r"\|\s*(ERROR|CRITICAL)\s*\||^\s*(ERROR|CRITICAL)\b")


def test_demo_publishes_the_examples_and_exits_cleanly(tmp_path):
    workdir = tmp_path / "demo"
    demo = Path(sysconfig.get_path("scripts")) / "gypsum-flows"
    result = run([str(demo), "demo", "--workdir", str(workdir)], clean_env(), timeout=420, cwd=tmp_path)
    output = result.stdout
    assert result.returncode == 0, output
    assert "Traceback" not in output, output
    assert not [line for line in output.splitlines() if ERROR_LINE.search(line)], output

    jobs = [job for spec in sorted(SPECS.glob("*.yaml")) for job in load_spec(spec).assets]
    for job in jobs:
        assert re.search(rf"^{re.escape(job.label)}\s+published\s", output, re.MULTILINE), job.label
        summary = workdir / "registry" / job.project / job.asset / job.version / "..summary"
        assert summary.is_file(), f"{job.label} is not in the demo's registry"
    assert re.search(r"^read back \S+ \(\d+ files\) into .*: identical to ", output, re.MULTILINE), output
    assert f"PREFECT_HOME={workdir / 'prefect'} prefect server start" in output
    # The runs are in the demo's own Prefect database, where the printed command will find them,
    # and the demo's Prefect (its ephemeral server included) logged through the noise filter.
    assert (workdir / "prefect" / "prefect.db").is_file()
    logging_config = yaml.safe_load((workdir / "prefect" / LOGGING_FILE).read_text())
    assert logging_config["handlers"]["console"]["filters"] == ["harmless_noise"]
    admin = load_users(workdir / "registry.state" / "users.yaml").users[0]
    assert admin.token not in output


def record(logger: str, message: str, exc: BaseException | None = None) -> logging.LogRecord:
    exc_info = (type(exc), exc, None) if exc else None
    return logging.LogRecord(logger, logging.ERROR, __file__, 1, message, None, exc_info)


def test_only_harmless_background_records_are_filtered():
    keep = HarmlessNoiseFilter().filter
    locked = sqlite3.OperationalError("database is locked")
    # Lock contention of the server's background services is retried by them: dropped.
    assert not keep(record("docket.dependencies", "send_telemetry_heartbeat()", locked))
    assert not keep(record("prefect.server.services.task_run_recorder", "Error flushing 1 events: database is locked"))
    # Anything else stays, including the same words from a flow run, and other server errors.
    assert keep(record("prefect.flow_runs", "database is locked"))
    assert keep(record("prefect.server.api.server", "Encountered exception in request", ValueError("boom")))
    assert keep(record("gypsum_flows.flows", "upload failed", locked))
    # The embedded server's connection pool, cancelled at shutdown: dropped.
    cancelled = record("sqlalchemy.pool.impl.AsyncAdaptedQueuePool", "Exception during reset or similar")
    assert not keep(cancelled)
