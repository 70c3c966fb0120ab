"""Operator actions: retry a failed job, re-queue an assigned one, cancel a pending one."""

from __future__ import annotations

import threading

import pytest
from helpers import wait_until

from ants import (
    BaseNode,
    Job,
    JobError,
    JobStatus,
    MemoryCommunication,
    MemoryNetwork,
    NodeConfig,
)


class ScriptedNode(BaseNode):
    """Fails the first job named "bad", blocks jobs named "stuck", finishes the rest."""

    def __init__(self, config, communication):
        super().__init__(config, communication)
        self.release = threading.Event()
        self.claim = True
        self.failed_once = False

    def assign_to_jobs(self, pending_jobs):
        return pending_jobs if self.claim else []

    def do_jobs(self, my_assigned_jobs):
        for job in my_assigned_jobs:
            if job.name == "bad" and not self.failed_once:
                self.failed_once = True
                job.set_error("first run fails")
            elif job.name == "stuck":
                self.release.wait(10)
                job.set_result({"late": True})
            else:
                job.set_result({"ok": True})


@pytest.fixture
def node():
    network = MemoryNetwork(seed=3)
    made = ScriptedNode(NodeConfig.local(max_attempts=1), MemoryCommunication(network, "a"))
    made.start()
    yield made
    made.release.set()
    made.shutdown()


def test_retry_failed_job_runs_new_job(node):
    job = Job("bad", {"n": 1})
    node.add_job(job).result(timeout=5)
    assert wait_until(lambda: node.state.get(job.id).status is JobStatus.FAILED, 5)

    retry_id = node.runtime.retry_job(job.id[:10]).result(timeout=5)
    assert retry_id != job.id
    assert wait_until(lambda: node.state.get(retry_id).status is JobStatus.DONE, 5)
    assert node.state.get(retry_id).payload == {"n": 1}
    assert node.state.get(job.id).status is JobStatus.FAILED


def test_requeue_assigned_job(node):
    job = Job("stuck", {"n": 2})
    node.add_job(job).result(timeout=5)
    assert wait_until(lambda: job.id in node.runtime._running, 5)
    node.claim = False

    node.runtime.requeue_job(job.id).result(timeout=5)
    record = node.state.get(job.id)
    assert record.status is JobStatus.PENDING
    assert record.attempt == 1
    assert "re-queued by operator" in record.error


def test_cancel_pending_job(node):
    node.claim = False
    job = Job("never", {"n": 3})
    node.add_job(job).result(timeout=5)
    node.runtime.cancel_job(job.id).result(timeout=5)
    record = node.state.get(job.id)
    assert record.status is JobStatus.FAILED
    assert record.error.startswith("cancelled by operator")


def test_action_on_wrong_status_raises(node):
    node.claim = False
    job = Job("waiting", {"n": 4})
    node.add_job(job).result(timeout=5)
    with pytest.raises(JobError, match="only failed jobs can be retried"):
        node.runtime.retry_job(job.id).result(timeout=5)
    with pytest.raises(JobError, match="not found"):
        node.runtime.cancel_job("ffff").result(timeout=5)


def test_create_job_adds_once(node):
    node.claim = False
    job = Job("made", {"n": 5})

    job_id = node.runtime.create_job(job, by="tester").result(timeout=5)

    record = node.state.get(job_id)
    assert record.status is JobStatus.PENDING
    assert record.creator == node.node_id
    with pytest.raises(JobError, match="exists already and is pending"):
        node.runtime.create_job(Job("made", {"n": 5})).result(timeout=5)
