"""A partitioned node rejoins and converges: duplicates are counted, no result is lost."""

from __future__ import annotations

import threading
import time
from collections import Counter

from helpers import wait_until

from ants import (
    BaseNode,
    Job,
    JobStatus,
    MemoryCommunication,
    MemoryNetwork,
    NodeConfig,
)

JOBS = 60


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


def test_partitioned_node_converges():
    SlowNode.runs = Counter()
    network = MemoryNetwork(seed=11)
    config = NodeConfig.local(suspect_after=0.5, dead_after=1.0)
    addresses = ["a", "b", "c"]
    nodes = [
        SlowNode(config, MemoryCommunication(network, address, bootstrap=["a"]), index == 0)
        for index, address in enumerate(addresses)
    ]
    for node in nodes:
        node.start()
    try:
        isolated = nodes[2]
        assert wait_until(lambda: any(
            r.owner == isolated.node_id for r in isolated.state.with_status(JobStatus.ASSIGNED)
        ), 10), "the node to isolate never claimed a job"
        network.isolate("c")
        # The others declare c dead and re-run its jobs while c finishes them too.
        assert wait_until(lambda: nodes[0].snapshot().count_done() == JOBS, 30)
        network.heal()

        assert wait_until(lambda: all(n.snapshot().count_done() == JOBS for n in nodes), 30)
        reference = nodes[0].state.jobs
        for node in nodes[1:]:
            assert wait_until(lambda n=node: n.state.jobs == reference, 10)
        for node in nodes:
            assert set(node.reports) == set(reference)
            assert max(node.reports.values()) == 1
        assert all(record.status is JobStatus.DONE for record in reference.values())
        assert len(SlowNode.runs) == JOBS
        duplicates = sum(count - 1 for count in SlowNode.runs.values())
        print(f"duplicate runs caused by the partition: {duplicates}")
        assert duplicates < JOBS
    finally:
        for node in nodes:
            node.shutdown()
