"""Job change records of a node: each job's recent transitions, and a journal
of the latest changes that lets a viewer update without rescanning.

Both are written on the beat thread, from the State's listeners, and read
from any thread, so each has its own lock.
"""

from __future__ import annotations

import threading
import time
from collections import deque

from ants.node.job import JobRecord, JobStatus
from ants.node.snapshot import JobChange, JobTransition

TRANSITIONS_PER_JOB = 16
"""Transitions kept per job; older ones are dropped first."""

JOURNAL_SIZE = 20_000
"""Job changes kept in the journal. A viewer that misses more changes than
this between two reads rescans the whole state instead."""

MAX_REASON_LENGTH = 200
"""Characters of a reason kept on a transition: the error's last line, cut."""


class JobHistory:
    """The last TRANSITIONS_PER_JOB transitions of every job in the state.

    Memory is bounded by the jobs in the state: `forget` drops a job's
    transitions when the job is purged.
    """

    def __init__(self, per_job: int = TRANSITIONS_PER_JOB) -> None:
        if per_job < 1:
            raise ValueError(f"per_job must be at least 1, got {per_job}")
        self.per_job = per_job
        self._lock = threading.Lock()
        self._transitions: dict[str, deque[JobTransition]] = {}
        self._assigned_since: dict[str, float] = {}
        """Job id -> when this node first saw the current attempt of an assigned
        job assigned."""

    def record(self, record: JobRecord, now: float | None = None) -> None:
        """Append the transition to `record`, which just won a merge."""
        now = time.time() if now is None else now
        transition = JobTransition(
            time=now,
            status=record.status,
            owner=record.owner,
            attempt=record.attempt,
            reason=_reason(record),
        )
        with self._lock:
            kept = self._transitions.get(record.id)
            if kept is None:
                kept = self._transitions[record.id] = deque(maxlen=self.per_job)
            previous = kept[-1] if kept else None
            kept.append(transition)
            if record.status is not JobStatus.ASSIGNED:
                self._assigned_since.pop(record.id, None)
            elif (
                previous is None
                or previous.status is not JobStatus.ASSIGNED
                or previous.attempt != record.attempt
            ):
                # A claim that moves to another owner within one attempt
                # keeps the time the attempt was first assigned.
                self._assigned_since[record.id] = now

    def forget(self, job_id: str) -> None:
        """Drop everything kept about a purged job."""
        with self._lock:
            self._transitions.pop(job_id, None)
            self._assigned_since.pop(job_id, None)

    def transitions(self, job_id: str) -> tuple[JobTransition, ...]:
        """Return the kept transitions of a job, oldest first, or () if none."""
        with self._lock:
            return tuple(self._transitions.get(job_id, ()))

    def assigned_since(self) -> dict[str, float]:
        """Return job id -> when its current attempt was first seen assigned."""
        with self._lock:
            return dict(self._assigned_since)

    def __len__(self) -> int:
        """Return the number of jobs with kept transitions."""
        with self._lock:
            return len(self._transitions)


class ChangeJournal:
    """The latest job changes, numbered by a version that rises by one per change."""

    def __init__(self, size: int = JOURNAL_SIZE) -> None:
        if size < 1:
            raise ValueError(f"size must be at least 1, got {size}")
        self._lock = threading.Lock()
        self._changes: deque[JobChange] = deque(maxlen=size)
        self.version = 0
        """Number of changes taken in so far; an int read is atomic."""

    def add(self, job_id: str, record: JobRecord | None) -> None:
        """Append a change: the job's new record, or None when it was purged."""
        with self._lock:
            self.version += 1
            self._changes.append(JobChange(self.version, job_id, record))

    def changes(self) -> tuple[JobChange, ...]:
        """Return the kept changes, oldest first."""
        with self._lock:
            return tuple(self._changes)


def _reason(record: JobRecord) -> str | None:
    """Return why a job went back to pending or failed: its error's last line."""
    if not record.error:
        return None
    if record.status is JobStatus.FAILED or (
        record.status is JobStatus.PENDING and record.attempt > 0
    ):
        lines = [line.strip() for line in record.error.splitlines() if line.strip()]
        if lines:
            reason = lines[-1]
            if len(reason) > MAX_REASON_LENGTH:
                reason = reason[: MAX_REASON_LENGTH - 1] + "…"
            return reason
    return None
