"""Nodes that re-queue a lost attempt on their own write byte-identical records."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from helpers import wait_until

from ants import BaseNode, Job, JobStatus, MemoryCommunication, MemoryNetwork, NodeConfig
from ants.node.job import JobRecord, canonical_bytes

OWNER_ID = "00000000000000c0"
GATE = threading.Event()
"""Keeps the owner's do_jobs from returning, so its jobs stay assigned."""


class Watcher(BaseNode):
    """A node without do_jobs. It claims nothing, so only the owner runs jobs."""


class Owner(BaseNode):
    jobs_to_add: list[Job] = []

    def add_jobs(self) -> list[Job]:
        return self.jobs_to_add

    def do_jobs(self, my_assigned_jobs: list[Job]) -> None:
        GATE.wait(30)


def wire_bytes(record: JobRecord) -> bytes:
    return canonical_bytes(record.to_wire())


def owned_by(node: BaseNode, owner_id: str, count: int) -> bool:
    records = node.state.with_status(JobStatus.ASSIGNED)
    return sum(1 for record in records if record.owner == owner_id) == count


def lost_attempt_written(node: BaseNode, job: Job) -> JobRecord | None:
    record = node.state.get(job.id)
    if record is None or record.status is JobStatus.ASSIGNED:
        return None
    return record


@pytest.fixture
def network() -> Iterator[MemoryNetwork]:
    GATE.clear()
    yield MemoryNetwork(seed=21)
    GATE.set()


def start(network: MemoryNetwork, node_class: type, address: str, **kwargs) -> BaseNode:
    config = NodeConfig.local(suspect_after=0.5, dead_after=1.0, workers=2)
    node = node_class(config, MemoryCommunication(network, address, bootstrap=["a"]), **kwargs)
    node.start()
    return node


def test_dead_owner_requeue_identical(network):
    retried = Job("retried", {"n": 1})
    last = Job("last", {"n": 2}, max_attempts=1)
    Owner.jobs_to_add = [retried, last]
    first = start(network, Watcher, "a")
    second = start(network, Watcher, "b")
    owner = start(network, Owner, "c", node_id=OWNER_ID)
    nodes = [first, second, owner]
    try:
        assert wait_until(lambda: owned_by(first, OWNER_ID, 2), 10), "claims missing on a"
        assert wait_until(lambda: owned_by(second, OWNER_ID, 2), 10), "claims missing on b"
        # Cut apart, each watcher must write its re-queues itself.
        network.cut("a", "b")
        owner.communication.crash()
        owner.runtime.shutdown()

        for job in (retried, last):
            on_first = wait_until(lambda j=job: lost_attempt_written(first, j), 10)
            on_second = wait_until(lambda j=job: lost_attempt_written(second, j), 10)
            assert wire_bytes(on_first) == wire_bytes(on_second)
            assert on_first.owner == OWNER_ID
            assert on_first.error == f"owner {OWNER_ID} stopped responding or restarted during attempt 1"

        pending = first.state.get(retried.id)
        assert pending.status is JobStatus.PENDING
        assert pending.attempt == 1
        failed = first.state.get(last.id)
        assert failed.status is JobStatus.FAILED
        assert failed.attempt == 0
        assert failed.max_attempts == 1
        assert failed.finished is None
    finally:
        for node in nodes:
            node.shutdown()


def test_restarted_owner_requeue_identical(network):
    job = Job("restarted", {"n": 3})
    Owner.jobs_to_add = [job]
    first = start(network, Watcher, "a")
    second = start(network, Watcher, "b")
    owner = start(network, Owner, "c", node_id=OWNER_ID)
    nodes = [first, second, owner]
    try:
        assert wait_until(lambda: owned_by(first, OWNER_ID, 1), 10), "claim missing on a"
        assert wait_until(lambda: owned_by(second, OWNER_ID, 1), 10), "claim missing on b"
        network.isolate("b")
        owner.communication.crash()
        owner.runtime.shutdown()
        # The owner comes back with its node id before it is dead. It finds
        # its claim on the first watcher and re-queues it itself, while the
        # isolated second watcher re-queues it once the owner is dead.
        restarted = start(network, Watcher, "c", node_id=OWNER_ID)
        nodes.append(restarted)

        by_owner = wait_until(lambda: lost_attempt_written(restarted, job), 10)
        by_watcher = wait_until(lambda: lost_attempt_written(second, job), 10)
        assert wire_bytes(by_owner) == wire_bytes(by_watcher)
        assert by_owner.status is JobStatus.PENDING
        assert by_owner.attempt == 1

        network.heal()
        assert wait_until(lambda: all(
            node.state.get(job.id) == by_owner for node in (first, second, restarted)
        ), 10), "the re-queued record did not converge"
    finally:
        for node in nodes:
            node.shutdown()
