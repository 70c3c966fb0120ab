"""Operator actions on jobs: add one, retry a failed one, re-queue, cancel.

Mixed into `NodeRuntime`. Each action runs on the beat thread as an ordinary
state change that gossips to the cluster.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import Future

from ants.errors import JobError
from ants.node.job import Job, JobRecord, JobStatus

logger = logging.getLogger("ants.node.runtime")


class OperatorActionsMixin:
    """Actions an operator or program requests on single jobs."""

    def create_job(self, job: Job, by: str = "operator") -> Future:
        """Add `job` to the cluster; the future returns its id.

        Unlike `add_job`, a job whose id exists already is an error, so the
        operator learns that nothing was added.
        """
        return self.call_soon(lambda: self._create(job, by))

    def retry_job(self, job_id: str, by: str = "operator") -> Future:
        """Run a failed job again as a new job; the future returns the new job's id.

        A terminal record is never replaced, so the retry has its own id: the
        same name and payload, with the failed job's id and a count as its key.
        """
        return self.call_soon(lambda: self._retry(job_id, by))

    def requeue_job(self, job_id: str, by: str = "operator") -> Future:
        """Take an assigned job from its owner and make it pending again."""
        return self.call_soon(lambda: self._operator_requeue(job_id, by))

    def cancel_job(self, job_id: str, by: str = "operator") -> Future:
        """End a pending job as failed, so no node runs it."""
        return self.call_soon(lambda: self._cancel(job_id, by))

    def _find(self, job_id: str, status: JobStatus, verb: str) -> JobRecord:
        """Return the record of `job_id` (or a unique id prefix) if it is in `status`."""
        record = self.state.get(job_id)
        if record is None:
            matches = [r for r in self.state.records() if r.id.startswith(job_id)]
            if len(matches) != 1:
                raise JobError(f"job {job_id!r} not found on node {self.node_id}")
            record = matches[0]
        if record.status is not status:
            raise JobError(
                f"job {record.id[:12]} is {record.status.name.lower()}; only "
                f"{status.name.lower()} jobs can be {verb}"
            )
        return record

    def _create(self, job: Job, by: str) -> str:
        existing = self.state.get(job.id)
        if existing is not None:
            raise JobError(
                f"job {job.id[:12]} ({job.name}) exists already and is "
                f"{existing.status.name.lower()}; change its name or payload to add "
                "another job"
            )
        self._add_jobs([job], source=f"create_job by {by}")
        logger.info(
            "%s added job %s (%s) on node %s", by, job.id, job.name, self.node_id
        )
        self._event("action", f"{by} added {job.name}", job.id)
        return job.id

    def _retry(self, job_id: str, by: str) -> str:
        record = self._find(job_id, JobStatus.FAILED, "retried")
        number = 1
        while True:
            job = Job(record.name, record.payload, key=["retry", record.id, number],
                      max_attempts=record.max_attempts, timeout=record.timeout)
            if job.id not in self.state.jobs:
                break
            number += 1
        self._add_jobs([job], source=f"retry of {record.id[:12]} by {by}")
        logger.info("%s retried failed job %s (%s) as %s on node %s",
                    by, record.id, record.name, job.id, self.node_id)
        self._event("action", f"{by} retried {record.name} as {job.id[:12]}", record.id)
        return job.id

    def _operator_requeue(self, job_id: str, by: str) -> str:
        record = self._find(job_id, JobStatus.ASSIGNED, "re-queued")
        # An operator's re-queue is a request to run the job again, so it does
        # not count against max_attempts.
        record = record.with_changes(max_attempts=max(record.max_attempts, record.attempt + 2))
        self._requeue(record, f"re-queued by {by} on node {self.node_id}")
        self._event("action", f"{by} re-queued {record.name}", record.id)
        return record.id

    def _cancel(self, job_id: str, by: str) -> str:
        record = self._find(job_id, JobStatus.PENDING, "cancelled")
        cancelled = record.with_changes(
            status=JobStatus.FAILED, owner=self.node_id,
            error=f"cancelled by {by} on node {self.node_id}", finished=time.time(),
        )
        self.state.merge_job(cancelled)
        logger.info("%s cancelled job %s (%s) on node %s", by, record.id, record.name,
                    self.node_id)
        self._event("action", f"{by} cancelled {record.name}", record.id)
        return record.id
