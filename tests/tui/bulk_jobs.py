"""Many job records at once, for dashboard tests and the jobs panel benchmark."""

from __future__ import annotations

import random
import time

from ants.node.base import BaseNode
from ants.node.job import JobRecord, JobStatus
from ants.tui.widgets.jobs_panel import JobsPanel

STATUS_MIX = (
    (JobStatus.PENDING, 40),
    (JobStatus.ASSIGNED, 3),
    (JobStatus.DONE, 55),
    (JobStatus.FAILED, 2),
)
"""Status and percentage of the records `bulk_records` makes."""

PEERS = tuple(f"{number:02d}" * 8 for number in range(1, 11))
"""Node ids that own the assigned and finished bulk records; none is a real node."""


def bulk_records(
    count: int, now: float | None = None, seed: int = 0
) -> list[JobRecord]:
    """Return `count` records in the STATUS_MIX, created 10 ms apart up to `now`.

    So 100,000 records span less than the default done_ttl of an hour, and
    a node does not purge the finished ones at once.
    Names cycle through "bulk-0" to "bulk-49"; each payload is {"n": index}.
    """
    now = time.time() if now is None else now
    chooser = random.Random(seed)
    statuses = [status for status, _ in STATUS_MIX]
    weights = [weight for _, weight in STATUS_MIX]
    records = []
    for index in range(count):
        status = chooser.choices(statuses, weights)[0]
        created = now - (count - index) * 0.01
        owner = None if status is JobStatus.PENDING else chooser.choice(PEERS)
        records.append(
            JobRecord(
                id=f"{chooser.getrandbits(128):032x}",
                name=f"bulk-{index % 50}",
                payload={"n": index},
                status=status,
                owner=owner,
                result={"n": index} if status is JobStatus.DONE else None,
                error="ValueError: bulk failure"
                if status is JobStatus.FAILED
                else None,
                created=created,
                finished=created + 0.5 if status.is_terminal else None,
            )
        )
    return records


def load_records(node: BaseNode, records: list[JobRecord]) -> None:
    """Merge `records` into a node's state; call it before the node starts."""
    if node.runtime.is_running:
        raise RuntimeError("load_records must run before the node starts")
    node.state.merge(records)


IDLE = {"observe": True, "suspect_after": 1800.0, "dead_after": 3600.0}
"""Config of a node that never creates or claims jobs, and that does not
re-queue the bulk jobs of its made-up owners while a test runs."""


def idle_node(make_node, node_file, count: int, seed: int = 0):
    """Return an idle node (IDLE) holding `count` bulk records, and the records."""
    node = make_node(node_file, **IDLE)
    records = bulk_records(count, seed=seed)
    load_records(node, records)
    return node, records


async def jobs_ready(pilot, app, wait_until) -> JobsPanel:
    """Wait for the app's first snapshot and job rows; return the jobs panel."""
    await wait_until(pilot, lambda: app.snapshot is not None, "a first snapshot")
    jobs = app.query_one(JobsPanel)
    await wait_until(pilot, lambda: jobs.active_table.row_count > 0, "job rows")
    return jobs
