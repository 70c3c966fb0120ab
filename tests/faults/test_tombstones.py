"""Finished jobs stay as tombstones for done_ttl, then the same job may run again."""

from __future__ import annotations

import threading
import time

from helpers import wait_until

from ants import (
    BaseNode,
    Job,
    JobStatus,
    MemoryCommunication,
    MemoryNetwork,
    NodeConfig,
)


class CountingNode(BaseNode):
    def __init__(self, config, communication):
        super().__init__(config, communication)
        self.runs: list[str] = []
        self.reports: list[str] = []
        self.lock = threading.Lock()

    def do_jobs(self, my_assigned_jobs):
        for job in my_assigned_jobs:
            with self.lock:
                self.runs.append(job.id)
            job.set_result({"ok": True})

    def completed_jobs(self, done_jobs):
        with self.lock:
            self.reports.extend(job.id for job in done_jobs)


def test_tombstone_blocks_rerun_until_ttl():
    network = MemoryNetwork(seed=7)
    config = NodeConfig.local(done_ttl=1.5)
    node = CountingNode(config, MemoryCommunication(network, "a"))
    node.start()
    try:
        job = Job("once", {"n": 1})
        node.add_job(job).result(timeout=5)
        assert wait_until(lambda: len(node.runs) == 1, 5)

        node.add_job(Job("once", {"n": 1})).result(timeout=5)
        time.sleep(3 * config.heartbeat_interval)
        assert node.runs == [job.id]
        assert node.reports == [job.id]

        assert wait_until(lambda: node.state.get(job.id) is None, 5), "tombstone not purged"
        node.add_job(Job("once", {"n": 1})).result(timeout=5)
        assert wait_until(lambda: len(node.runs) == 2, 5)
        assert wait_until(lambda: len(node.reports) == 2, 5)
    finally:
        node.shutdown()


def test_expired_tombstone_from_peer_is_ignored():
    network = MemoryNetwork(seed=8)
    keeper = CountingNode(NodeConfig.local(done_ttl=600.0), MemoryCommunication(network, "a"))
    job = Job("old", {"n": 2})
    aged = job.record.with_changes(
        status=JobStatus.DONE, owner="0123456789abcdef", result={"ok": True},
        max_attempts=3, finished=time.time() - 10,
    )
    keeper.state.merge_job(aged)  # Before start, so the runtime is not writing yet.
    newcomer = CountingNode(
        NodeConfig.local(done_ttl=1.0), MemoryCommunication(network, "b", bootstrap=["a"])
    )
    keeper.start()
    newcomer.start()
    try:
        assert wait_until(lambda: len(newcomer.communication.members()) == 2, 5)
        time.sleep(5 * newcomer.config.heartbeat_interval)
        assert keeper.reports == [job.id]
        assert newcomer.state.get(job.id) is None
        assert newcomer.reports == []
    finally:
        keeper.shutdown()
        newcomer.shutdown()


def test_tombstone_without_finished_expires():
    # A last attempt lost with its owner fails without a finished time, so
    # each node counts done_ttl from when it first stores the tombstone.
    node = CountingNode(NodeConfig.local(done_ttl=1.0), MemoryCommunication(MemoryNetwork(9), "a"))
    job = Job("lost", {"n": 3})
    lost = job.record.with_changes(
        status=JobStatus.FAILED, owner="0123456789abcdef", error="owner lost",
        max_attempts=1, finished=None,
    )
    node.state.merge_job(lost)  # Before start, so the runtime is not writing yet.
    node.start()
    try:
        assert wait_until(lambda: node.reports == [job.id], 5)
        node.add_job(Job("lost", {"n": 3})).result(timeout=5)
        assert node.runs == []

        assert wait_until(lambda: node.state.get(job.id) is None, 5), "tombstone not purged"
        node.add_job(Job("lost", {"n": 3})).result(timeout=5)
        assert wait_until(lambda: node.runs == [job.id], 5)
    finally:
        node.shutdown()
