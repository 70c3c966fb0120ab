"""Where retries and hand-backs go: another node, and without using up attempts."""

from __future__ import annotations

import threading

from helpers import wait_until

from ants import (
    BaseNode,
    Job,
    JobStatus,
    MemoryCommunication,
    MemoryNetwork,
    NodeConfig,
)


class Worker(BaseNode):
    """Finishes jobs, or fails every one when built with broken=True."""

    def __init__(self, config, communication, broken=False, jobs=()):
        super().__init__(config, communication)
        self.broken = broken
        self.to_add = list(jobs)
        self.ran: list[str] = []
        self.gate = threading.Event()
        self.gate.set()

    def add_jobs(self):
        jobs, self.to_add = self.to_add, []
        return jobs

    def do_jobs(self, my_assigned_jobs):
        for job in my_assigned_jobs:
            self.gate.wait(10)
            self.ran.append(job.id)
            if self.broken:
                job.set_error("disk full on this machine")
            else:
                job.set_result({"by": self.node_id})


class Producer(BaseNode):
    """Creates jobs and does not override do_jobs."""

    def __init__(self, config, communication, jobs):
        super().__init__(config, communication)
        self.to_add = list(jobs)

    def add_jobs(self):
        jobs, self.to_add = self.to_add, []
        return jobs


def start_pair(first, second):
    first.start()
    second.start()
    assert wait_until(lambda: len(first.communication.members()) == 2, 5)
    assert wait_until(lambda: len(second.communication.members()) == 2, 5)


def test_retry_moves_to_healthy_node():
    network = MemoryNetwork(seed=21)
    config = NodeConfig.local(max_attempts=3)
    jobs = [Job("flaky", {"n": n}) for n in range(30)]
    broken = Worker(config, MemoryCommunication(network, "a"), broken=True, jobs=jobs)
    healthy = Worker(config, MemoryCommunication(network, "b", bootstrap=["a"]))
    try:
        start_pair(broken, healthy)
        assert wait_until(
            lambda: healthy.snapshot().count(JobStatus.DONE)
            + healthy.snapshot().count(JobStatus.FAILED) == 30, 30
        )
        failed = healthy.snapshot().count(JobStatus.FAILED)
        # The broken node goes last for jobs it failed, so the healthy one retries them.
        assert failed == 0, f"{failed} of 30 jobs failed although a healthy node was free"
    finally:
        broken.shutdown()
        healthy.shutdown()


def test_node_without_do_jobs_claims_nothing():
    network = MemoryNetwork(seed=22)
    config = NodeConfig.local(max_attempts=1)
    jobs = [Job("made", {"n": n}) for n in range(20)]
    producer = Producer(config, MemoryCommunication(network, "a"), jobs)
    worker = Worker(config, MemoryCommunication(network, "b", bootstrap=["a"]))
    try:
        start_pair(producer, worker)
        assert wait_until(lambda: producer.snapshot().count(JobStatus.DONE) == 20, 20)
        assert producer.snapshot().count(JobStatus.FAILED) == 0
        assert len(worker.ran) == 20
    finally:
        producer.shutdown()
        worker.shutdown()


def test_hand_back_does_not_use_attempt():
    network = MemoryNetwork(seed=23)
    config = NodeConfig.local(max_attempts=1)
    job = Job("long", {"n": 1})
    leaver = Worker(config, MemoryCommunication(network, "a"), jobs=[job])
    stayer = Worker(config, MemoryCommunication(network, "b", bootstrap=["a"]))
    leaver.gate.clear()
    stayer.gate.clear()
    try:
        start_pair(leaver, stayer)
        assert wait_until(lambda: (r := stayer.state.get(job.id)) is not None
                          and r.status is JobStatus.ASSIGNED, 10)
        owner = stayer.state.get(job.id).owner
        holder, other = (leaver, stayer) if owner == leaver.node_id else (stayer, leaver)
        holder.shutdown()
        other.gate.set()

        assert wait_until(lambda: (r := other.state.get(job.id)) is not None
                          and r.status is JobStatus.DONE, 10)
        record = other.state.get(job.id)
        assert record.owner == other.node_id
        assert record.attempt == 1
        assert "handed back" in record.error
    finally:
        leaver.gate.set()
        stayer.gate.set()
        leaver.shutdown()
        stayer.shutdown()
