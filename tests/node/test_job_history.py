"""Per-job transition history and the job change journal, alone and in a node."""

from __future__ import annotations

import threading

import pytest
from helpers import wait_until

from ants import (
    BaseNode,
    Job,
    JobStatus,
    MemoryCommunication,
    MemoryNetwork,
    NodeConfig,
)
from ants.node.history import ChangeJournal, JobHistory
from ants.node.job import JobRecord
from ants.node.state import State


def _record(status: JobStatus, attempt: int = 0, **changes) -> JobRecord:
    return JobRecord(
        id="j1", name="work", payload={}, status=status, attempt=attempt, **changes
    )


def test_history_keeps_last_transitions_per_job():
    history = JobHistory(per_job=4)
    for attempt in range(10):
        history.record(_record(JobStatus.PENDING, attempt), now=float(attempt))
    kept = history.transitions("j1")
    assert len(kept) == 4
    assert [entry.attempt for entry in kept] == [6, 7, 8, 9]
    assert [entry.time for entry in kept] == [6.0, 7.0, 8.0, 9.0]


def test_history_forget_drops_job():
    history = JobHistory()
    history.record(_record(JobStatus.ASSIGNED, owner="n1"), now=5.0)
    assert len(history) == 1
    history.forget("j1")
    assert history.transitions("j1") == ()
    assert len(history) == 0
    assert history.assigned_since() == {}


def test_history_reason_from_error():
    history = JobHistory()
    history.record(_record(JobStatus.PENDING), now=1.0)
    history.record(
        _record(
            JobStatus.PENDING,
            1,
            owner="n1",
            error="Traceback\n  x\nValueError: bad n\n",
        ),
        now=2.0,
    )
    history.record(_record(JobStatus.FAILED, 2, owner="n1", error="x" * 500), now=3.0)
    first, requeued, failed = history.transitions("j1")
    assert first.reason is None
    assert requeued.reason == "ValueError: bad n"
    assert len(failed.reason) == 200
    assert failed.reason.endswith("…")


def test_assigned_since_kept_across_owner_change():
    history = JobHistory()
    history.record(_record(JobStatus.PENDING), now=1.0)
    history.record(_record(JobStatus.ASSIGNED, owner="n1"), now=2.0)
    history.record(_record(JobStatus.ASSIGNED, owner="n2"), now=3.0)
    assert history.assigned_since() == {"j1": 2.0}
    history.record(_record(JobStatus.ASSIGNED, 1, owner="n1"), now=4.0)
    assert history.assigned_since() == {"j1": 4.0}
    history.record(_record(JobStatus.DONE, 1, owner="n1"), now=5.0)
    assert history.assigned_since() == {}


def test_history_rejects_zero_bound():
    with pytest.raises(ValueError, match="per_job must be at least 1, got 0"):
        JobHistory(per_job=0)


def test_journal_versions_consecutive_and_bounded():
    journal = ChangeJournal(size=3)
    for number in range(5):
        journal.add(f"j{number}", None)
    changes = journal.changes()
    assert journal.version == 5
    assert [change.version for change in changes] == [3, 4, 5]
    assert [change.job_id for change in changes] == ["j2", "j3", "j4"]


def test_state_listeners_feed_history_and_journal():
    state = State()
    history = JobHistory()
    journal = ChangeJournal()
    state.listener = lambda record: (
        history.record(record),
        journal.add(record.id, record),
    )
    state.remove_listener = lambda job_id: (
        history.forget(job_id),
        journal.add(job_id, None),
    )
    pending = _record(JobStatus.PENDING)
    state.merge_job(pending)
    state.merge_job(pending)  # no change, no transition
    state.merge_job(_record(JobStatus.DONE, owner="n1", finished=9.0))
    assert [entry.status for entry in history.transitions("j1")] == [
        JobStatus.PENDING,
        JobStatus.DONE,
    ]
    state.remove_job("j1")
    state.remove_job("j1")  # already gone, no change
    assert history.transitions("j1") == ()
    assert [change.record is None for change in journal.changes()] == [
        False,
        False,
        True,
    ]


class GatedNode(BaseNode):
    """Claims every job and finishes it once `release` is set."""

    def __init__(self, config, communication):
        super().__init__(config, communication)
        self.release = threading.Event()

    def assign_to_jobs(self, pending_jobs):
        return pending_jobs

    def do_jobs(self, my_assigned_jobs):
        self.release.wait(10)
        for job in my_assigned_jobs:
            job.set_result({"ok": True})


def test_node_history_pending_assigned_done_then_purged():
    network = MemoryNetwork(seed=5)
    node = GatedNode(NodeConfig.local(done_ttl=1.0), MemoryCommunication(network, "a"))
    node.start()
    try:
        job = Job("gated", {"n": 1})
        node.add_job(job).result(timeout=5)
        wait_until(
            lambda: job.id in node.snapshot().assigned_since, 5, message="assigned"
        )
        node.release.set()
        wait_until(
            lambda: (
                node.state.get(job.id) is not None
                and node.state.get(job.id).status is JobStatus.DONE
            ),
            5,
            message="job done",
        )
        statuses = [entry.status for entry in node.job_history(job.id)]
        assert statuses == [JobStatus.PENDING, JobStatus.ASSIGNED, JobStatus.DONE]
        assert {entry.owner for entry in node.job_history(job.id)[1:]} == {node.node_id}

        wait_until(lambda: node.state.get(job.id) is None, 10, message="job purged")
        assert node.job_history(job.id) == ()
        snapshot = node.snapshot()
        assert snapshot.job_changes[-1].job_id == job.id
        assert snapshot.job_changes[-1].record is None
        assert snapshot.jobs_version == snapshot.job_changes[-1].version
    finally:
        node.release.set()
        node.shutdown()
