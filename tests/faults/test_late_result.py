"""A result from an owner declared dead is kept everywhere and its job is not run again.

Three nodes gossip over TCP on 127.0.0.1. The node that owns the job is cut
off while the job runs (`partition.PartitionedTransport`), the other two
declare it dead and re-queue the job, and then the cut heals and the owner's
DONE record for the old attempt arrives. The other nodes claim nothing
until after the heal, so no second run can have started before the result
arrives, and the test checks that the late result wins rather than which of
two runs finished first.
"""

from __future__ import annotations

import threading
from collections import Counter

from helpers import wait_until

from ants import BaseNode, Job, JobStatus, NodeConfig, SocketCommunication

from .partition import Partition, PartitionedTransport

INTERVAL = 0.2
RUN_TIMEOUT = 30.0
"""Maximum seconds the owner's run waits for the test to release it."""


class LateNode(BaseNode):
    """A node that claims jobs only while `may_claim` is set. Each run is counted and
    waits for `release`."""

    release = threading.Event()
    started = threading.Event()
    runs: list[tuple[str, int]] = []
    lock = threading.Lock()

    def __init__(self, config, communication, may_claim: bool):
        super().__init__(config, communication)
        self.may_claim = threading.Event()
        if may_claim:
            self.may_claim.set()
        self.reports: Counter[str] = Counter()

    def assign_to_jobs(self, pending_jobs):
        if not self.may_claim.is_set():
            return []
        return pending_jobs

    def do_jobs(self, my_assigned_jobs):
        for job in my_assigned_jobs:
            with LateNode.lock:
                LateNode.runs.append((self.node_id, job.attempt))
            LateNode.started.set()
            LateNode.release.wait(RUN_TIMEOUT)
            job.set_result({"by": self.node_id})

    def completed_jobs(self, done_jobs):
        self.reports.update(job.id for job in done_jobs)


def alive_peers(node: BaseNode) -> int:
    return sum(
        1 for m in node.communication.members() if not m.is_self and m.state == "alive"
    )


def describe(nodes: list[LateNode], job: Job) -> str:
    return "; ".join(f"{node.node_id}: {node.state.get(job.id)}" for node in nodes)


def test_late_result_kept_and_not_rerun():
    LateNode.release = threading.Event()
    LateNode.started = threading.Event()
    LateNode.runs = []
    partition = Partition()
    config = NodeConfig.local(
        heartbeat_interval=INTERVAL, suspect_after=0.5, dead_after=1.0
    )
    nodes: list[LateNode] = []
    for index in range(3):
        bootstrap = [nodes[0].communication.listen_address] if nodes else []
        transport = SocketCommunication(
            host="127.0.0.1", port=0, pull_interval=INTERVAL,
            bootstrap_nodes=bootstrap, seed=index,
        )
        node = LateNode(config, PartitionedTransport(transport, partition), index == 0)
        node.start()
        nodes.append(node)
    owner, others = nodes[0], nodes[1:]
    job = Job("late", {"n": 1})
    try:
        assert wait_until(lambda: all(alive_peers(n) == 2 for n in nodes), 10), (
            "the nodes never saw each other"
        )
        owner.add_job(job)
        assert LateNode.started.wait(10), "the owner never started the job"
        wait_until(
            lambda: all(
                (record := n.state.get(job.id)) is not None
                and record.status is JobStatus.ASSIGNED
                and record.owner == owner.node_id
                for n in others
            ),
            timeout=10,
            message=lambda: f"the owner's claim on every node: {describe(nodes, job)}",
        )

        # Cut the owner off, so the others declare it dead and re-queue its job.
        partition.isolated.add(owner.node_id)
        wait_until(
            lambda: all(
                (record := n.state.get(job.id)).status is JobStatus.PENDING
                and record.attempt == 1
                for n in others
            ),
            timeout=15,
            message=lambda: f"the job re-queued on the others: {describe(nodes, job)}",
        )

        # The owner finishes the old attempt while it is still cut off.
        LateNode.release.set()
        wait_until(
            lambda: owner.state.get(job.id).status is JobStatus.DONE,
            timeout=10,
            message=lambda: f"the owner's result: {describe(nodes, job)}",
        )
        result = owner.state.get(job.id)
        assert result.attempt == 0
        assert all(n.state.get(job.id).status is JobStatus.PENDING for n in others)

        # Heal before anyone else may claim, so the late result meets no rival run.
        partition.isolated.clear()
        wait_until(
            lambda: all(n.state.get(job.id) == result for n in nodes),
            timeout=15,
            message=lambda: f"the owner's result on every node: {describe(nodes, job)}",
        )
        for node in others:
            node.may_claim.set()
        beat = min(node.runtime.beat for node in nodes)
        wait_until(
            lambda: all(node.runtime.beat >= beat + 10 for node in nodes),
            timeout=10,
            message="ten more beats on every node",
        )

        for node in nodes:
            record = node.state.get(job.id)
            assert record == result, f"node {node.node_id} has {record}"
            assert record.status is JobStatus.DONE
            assert record.result == {"by": owner.node_id}
            assert node.reports == Counter({job.id: 1}), f"node {node.node_id}"
        assert LateNode.runs == [(owner.node_id, 0)]
        assert partition.dropped > 0
    finally:
        LateNode.release.set()
        for node in nodes:
            node.shutdown(timeout=1.0)
