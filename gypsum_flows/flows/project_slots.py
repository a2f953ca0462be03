"""One upload per gypsum project across every machine: a Prefect global concurrency limit per project.

gypsum locks a whole project while a version uploads; a second upload into
the project is refused (403) until the first completes. Flow runs on
different workers would find that out only by failing and retrying. Instead,
every flow that publishes holds the project's *slot* first: a Prefect global
concurrency limit of one slot named ``gypsum-project-<project>``, created on
demand on the Prefect server. Whoever starts the runs (two batches, a batch
and a manual run), the slot makes them take turns.

The slot is held with a lease of :data:`LEASE_SECONDS` (Prefect's minimum)
that a thread of the holder renews every 45 s. A run that is killed stops
renewing, and the Prefect server's repossessor frees the slot when the lease
runs out: at most ``LEASE_SECONDS`` plus one pass of the repossessor
(``PREFECT_SERVER_SERVICES_REPOSSESSOR_LOOP_SECONDS``, 15 s by default)
after the kill. A run that waits for a held slot retries after the server's
``Retry-After`` (the slot's average occupancy, at most
``PREFECT_SERVER_CONCURRENCY_MAXIMUM_CONCURRENCY_SLOT_WAIT_SECONDS``, 30 s).

Slots are taken in deployment runs (started by workers: fan-out's
``publish-asset``, a deployed batch or manual deployment run), whose server
runs the repossessor. A flow called directly (``gypsum-flows publish``, often
on the ephemeral server, which frees no expired lease) relies on the batch's
in-process ordering instead, so a killed local run never blocks the next.

Holding is re-entrant within a run: a flow that holds a project's slot and
calls another publishing flow on the same project does not wait for itself.

Example:
    >>> slot_name("scrnaseq")
    'gypsum-project-scrnaseq'
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from prefect import get_client, get_run_logger
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
from prefect.concurrency.sync import concurrency
from prefect.context import FlowRunContext
from prefect.exceptions import MissingContextError, ObjectAlreadyExists, ObjectNotFound
from prefect.runtime import deployment as prefect_deployment

#: Prefix of every project slot's global concurrency limit.
SLOT_PREFIX = "gypsum-project-"
#: Seconds a killed holder keeps a slot at most (plus one repossessor pass); Prefect's minimum lease.
LEASE_SECONDS = 60.0

#: Projects whose slot this run (context) holds.
_held: ContextVar[frozenset[str]] = ContextVar("gypsum_project_slots", default=frozenset())
#: Slot names known to exist on the Prefect server (created or seen by this process).
_known: set[tuple[str, str]] = set()  # (API URL, name)


def slot_name(project: str) -> str:
    """The global concurrency limit of ``project``: ``gypsum-project-<project>``.

    Characters Prefect refuses in names (``/ % & > <``) are replaced, and a
    hash of the real name keeps such names apart.

    Example:
        >>> slot_name("a&b")
        'gypsum-project-a_b-4e012385'
    """
    safe = re.sub(r"[/%&><]", "_", project)
    if safe != project:
        safe += "-" + hashlib.sha256(project.encode()).hexdigest()[:8]
    return SLOT_PREFIX + safe


def ensure_slot(name: str) -> None:
    """Create the one-slot global concurrency limit ``name`` unless it exists.

    Example::

        ensure_slot(slot_name("scrnaseq"))
    """
    with get_client(sync_client=True) as client:
        key = (str(client.api_url), name)
        if key in _known:
            return
        try:
            client.read_global_concurrency_limit_by_name(name)
        except ObjectNotFound:
            try:
                client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=name, limit=1))
            except ObjectAlreadyExists:
                pass  # another run created it first
        _known.add(key)


@contextmanager
def project_slot(project: str, required: bool = False) -> Iterator[None]:
    """Hold ``project``'s slot for the body: wait while another run anywhere holds it.

    Only in a deployment run, unless ``required``.

    Example::

        @flow
        def publish_one() -> None:
            with project_slot("scrnaseq"):
                upload_version("./v1", "scrnaseq", "zeisel-brain", "v1")
    """
    held = _held.get()
    if project in held or not (required or _in_deployment_run()):
        yield
        return
    name = slot_name(project)
    ensure_slot(name)
    asked = time.monotonic()
    with concurrency(name, occupy=1, lease_duration=LEASE_SECONDS, strict=True):
        waited = time.monotonic() - asked
        if waited >= 1:
            _logger().info("Project %s was busy: waited %.1f s for its slot %s", project, waited, name)
        token = _held.set(held | {project})
        try:
            yield
        finally:
            _held.reset(token)


def _in_deployment_run() -> bool:
    """Whether this run was started from a deployment (read from the run's context, not asked of the API)."""
    context = FlowRunContext.get()
    if context is not None and context.flow_run is not None:
        return context.flow_run.deployment_id is not None
    return prefect_deployment.id is not None


def _logger() -> logging.Logger | logging.LoggerAdapter:
    """The run's logger inside a flow or task run, this module's outside."""
    try:
        return get_run_logger()
    except MissingContextError:
        return logging.getLogger(__name__)
