"""A partitioned node rejoins and converges, with bounded duplicates and no result lost.

The nodes gossip over TCP on 127.0.0.1. A wrapper around each node's socket
transport (`partition.PartitionedTransport`) drops every frame between the
partitioned node and the others, so the two sides stop hearing each other
while their connections still work.
"""

from __future__ import annotations

import threading
import time
from collections import Counter

from helpers import wait_until

from ants import BaseNode, Job, JobStatus, NodeConfig, SocketCommunication

from .partition import Partition, PartitionedTransport

JOBS = 60
INTERVAL = 0.2


class SlowNode(BaseNode):
    """Runs jobs of 50 ms and records every run and every report."""

    runs: Counter = Counter()
    lock = threading.Lock()

    def __init__(self, config, communication, creates: bool):
        super().__init__(config, communication)
        self.creates = creates
        self.reports: Counter[str] = Counter()

    def add_jobs(self):
        if not self.creates:
            return []
        self.creates = False
        return [Job("slow", {"n": n}) for n in range(JOBS)]

    def do_jobs(self, my_assigned_jobs):
        for job in my_assigned_jobs:
            time.sleep(0.05)
            with SlowNode.lock:
                SlowNode.runs[job.id] += 1
            job.set_result({"by": self.node_id})

    def completed_jobs(self, done_jobs):
        self.reports.update(job.id for job in done_jobs)


def done_count(node: BaseNode) -> int:
    return node.state.count(JobStatus.DONE)


def job_ids(node: BaseNode) -> set[str]:
    return {record.id for record in node.state.records()}


def terminal_ids(node: BaseNode) -> set[str]:
    return {record.id for record in node.state.records() if record.is_terminal}


def alive_peers(node: BaseNode) -> int:
    return sum(1 for m in node.communication.members() if not m.is_self and m.state == "alive")


def test_partitioned_node_converges(record_property):
    SlowNode.runs = Counter()
    partition = Partition()
    config = NodeConfig.local(
        heartbeat_interval=INTERVAL, suspect_after=0.5, dead_after=1.0
    )
    nodes: list[SlowNode] = []
    for index in range(3):
        bootstrap = [nodes[0].communication.listen_address] if nodes else []
        socket = SocketCommunication(
            host="127.0.0.1", port=0, pull_interval=INTERVAL,
            bootstrap_nodes=bootstrap, seed=index,
        )
        node = SlowNode(config, PartitionedTransport(socket, partition), creates=index == 0)
        node.start()
        nodes.append(node)
    majority, isolated = nodes[:2], nodes[2]
    try:
        assert wait_until(lambda: all(alive_peers(n) == 2 for n in nodes), 10), (
            "the nodes never saw each other"
        )
        # The cut comes once some results are known everywhere and the node
        # to isolate owns jobs, so both sides have unfinished work of the other.
        assert wait_until(lambda: done_count(isolated) >= JOBS // 4, 20), (
            "the node to isolate never learned of finished jobs"
        )
        assert wait_until(lambda: any(
            r.owner == isolated.node_id for r in isolated.state.with_status(JobStatus.ASSIGNED)
        ), 10), "the node to isolate never claimed a job"
        partition.isolated.add(isolated.node_id)
        # A job runs at most once on each side, and a second time only if one
        # side had not learned its result when the cut came.
        all_ids = job_ids(majority[0]) | job_ids(isolated)
        known_to_majority = terminal_ids(majority[0]) | terminal_ids(majority[1])
        known_to_both = known_to_majority & terminal_ids(isolated)
        may_run_twice = len(all_ids - known_to_both)

        # Each side declares the other dead and runs every job it has not seen finish.
        assert wait_until(lambda: all(done_count(n) == JOBS for n in majority), 30)
        assert wait_until(lambda: done_count(isolated) == JOBS, 30)
        assert partition.dropped > 0
        partition.isolated.clear()

        assert wait_until(lambda: all(alive_peers(n) == 2 for n in nodes), 15), (
            "the isolated node did not rejoin"
        )
        reference = majority[0].state.jobs
        for node in nodes[1:]:
            assert wait_until(lambda n=node: n.state.jobs == reference, 15)
        assert len(reference) == JOBS
        for record in reference.values():
            assert record.status is JobStatus.DONE
        for node in nodes:
            assert set(node.reports) == set(reference)
            assert max(node.reports.values()) == 1

        assert set(SlowNode.runs) == set(reference)
        assert max(SlowNode.runs.values()) <= 2
        duplicates = sum(count - 1 for count in SlowNode.runs.values())
        record_property("duplicate_runs", duplicates)
        record_property("may_run_twice", may_run_twice)
        print(f"duplicate runs caused by the partition: {duplicates} (bound: {may_run_twice} "
              "jobs whose result one side lacked at the cut)")
        assert duplicates <= may_run_twice
    finally:
        for node in nodes:
            node.shutdown(timeout=1.0)
