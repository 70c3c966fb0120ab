"""Choosing which pending jobs a node claims, and running claims that settled.

Mixed into `NodeRuntime`, whose state, configuration and transport it uses.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

from ants.node.job import Job, JobRecord, JobStatus, rendezvous_rank

logger = logging.getLogger("ants.node.runtime")

MAX_OFFERED = 4096
"""Pending jobs offered to assign_to_jobs per beat at most. When more are
pending, each beat offers a different random sample, so every job is offered
in time while a beat's cost stays bounded."""


@dataclass(slots=True)
class _Claim:
    attempt: int
    settles_at: float
    """Monotonic time after which the job runs if this node still owns it."""


class ClaimsMixin:
    """Claim policy of a node runtime: the claim window, turns and dispatch."""

    def claim_window(self, preferred: bool = True) -> int:
        """Return how many unfinished jobs this node should own at most right now.

        Until a job has been timed, a node claims up to max_in_flight of the
        jobs it ranks highest for, but only two per worker of other nodes'
        jobs, so it cannot take its peers' share before they have seen it.
        """
        if self._job_seconds is None:
            if preferred:
                return self.config.max_in_flight
            return min(self.config.max_in_flight, 2 * self.config.workers)
        if self._job_seconds <= 0:
            return self.config.max_in_flight
        horizon = self._settle_delay + 2 * self.config.heartbeat_interval
        needed = math.ceil(self.config.workers * horizon / self._job_seconds)
        return max(self.config.workers, min(self.config.max_in_flight, needed))

    def _update_settle_delay(self) -> None:
        # NOTE: with 20 nodes on 2 cores and thousands of instant jobs, claims
        # and results still miss this delay and jobs run twice far too often
        # (benchmarks/RESULTS.md). Small clusters measured no duplicates.
        # A claim must have reached every competitor before its job runs, and
        # gossip needs about log(members) / log(fanout + 1) rounds for that.
        members = sum(1 for m in self.communication.members() if m.state == "alive")
        fanout = getattr(self.communication, "fanout", 1)
        self._settle_delay = self.config.settle_delay_for(max(members, 1), fanout)

    def _claim_jobs(self) -> None:
        self._update_settle_delay()
        pending = self.state.with_status(JobStatus.PENDING)
        self._track_pending(pending)

        owned = len(self._claims) + len(self._running)
        capacity = self.claim_window(preferred=True) - owned
        if capacity <= 0 or not pending:
            return

        candidates = self._requested_jobs(pending)
        steal_capacity = max(0, self.claim_window(preferred=False) - owned)
        chosen = self._choose_claims(
            candidates,
            min(capacity, self.config.claims_per_beat),
            min(steal_capacity, self.config.claims_per_beat),
        )

        settles_at = time.monotonic() + self._settle_delay
        claimed = 0
        for record in chosen:
            claim = record.with_changes(status=JobStatus.ASSIGNED, owner=self.node_id)
            if self.state.merge_job(claim) is not None:
                self._claims[record.id] = _Claim(record.attempt, settles_at)
                claimed += 1
        if claimed:
            logger.debug("node %s claimed %d job(s)", self.node_id, claimed)

    def _track_pending(self, pending: list[JobRecord]) -> None:
        """Note when each pending attempt was first seen, and drop stale cache entries."""
        now = time.monotonic()
        since = self._pending_since
        for record in pending:
            since.setdefault((record.id, record.attempt), now)
        if len(since) > 2 * len(pending) + 1024:
            live = {(r.id, r.attempt) for r in pending}
            self._pending_since = {k: v for k, v in since.items() if k in live}
        if len(self._positions) > 2 * len(pending) + 1024:
            live = {(r.id, r.attempt) for r in pending}
            self._positions = {k: v for k, v in self._positions.items() if k in live}

    def _requested_jobs(self, pending: list[JobRecord]) -> list[JobRecord]:
        """Offer pending jobs to assign_to_jobs; return the ones it requests."""
        if len(pending) > MAX_OFFERED:
            pending = self._random.sample(pending, MAX_OFFERED)
        pending.sort(key=lambda r: (r.created, r.id))
        offered = [Job.from_record(record) for record in pending]
        requested = self._call_hook("assign_to_jobs", offered) or []
        candidates = []
        for job in requested:
            if not isinstance(job, Job) or job.id in self._running:
                continue
            current = self.state.get(job.id)
            if current is not None and current.status is JobStatus.PENDING:
                candidates.append(current)
        return candidates

    def _position(self, record: JobRecord, others: frozenset[str]) -> int:
        """Return how many live peers rank above this node for this attempt, cached.

        A pending record keeps the owner of its failed or lost attempt, and
        every node moves that node to the end of the order, so a retry goes to
        another node when one is willing.
        """
        previous = record.owner
        if previous == self.node_id:
            return len(others)
        key = (record.id, record.attempt)
        position = self._positions.get(key)
        if position is None:
            job_id, attempt = key
            mine = rendezvous_rank(job_id, self.node_id, attempt)
            position = sum(
                1 for other in others
                if other != previous and rendezvous_rank(job_id, other, attempt) > mine
            )
            self._positions[key] = position
        return position

    def _choose_claims(
        self, candidates: list[JobRecord], limit: int, steal_limit: int
    ) -> list[JobRecord]:
        """Pick the jobs to claim: those whose claim slot belongs to this node now.

        Rendezvous hashing over the live members orders the nodes for every
        job. The time a job has been pending, as this node saw it, is cut into
        slots of a settle delay plus a beat. The k-th node of the order may
        claim the job only in the first half of slot k, cycling through the
        members. So the first node takes a job at once, and when it is busy,
        paused or does not want it the others take their turns one by one.
        Two nodes do not claim a job in the same slot, and the idle half-slot
        absorbs the difference between when nodes saw the job become pending.
        """
        others = frozenset(
            m.node_id for m in self.communication.members()
            if m.state == "alive" and m.node_id != self.node_id
        )
        if others != self._ranked_among:
            self._ranked_among = others
            self._positions.clear()
        positions = [(self._position(record, others), record) for record in candidates]
        positions.sort(key=lambda item: item[0])
        if not others:
            # Alone, or before any peer has been heard: claim as cautiously as a
            # node taking others' work, since peers may be about to join.
            return [record for _, record in positions][: min(limit, steal_limit)]
        step = self._settle_delay + self.config.heartbeat_interval
        cycle = len(others) + 1
        now = time.monotonic()
        preferred: list[JobRecord] = []
        waited: list[JobRecord] = []
        for position, record in positions:
            if len(preferred) >= limit:
                break
            age = now - self._pending_since.get((record.id, record.attempt), now)
            slot, into_slot = divmod(age, step)
            if int(slot) % cycle != position or into_slot >= step / 2:
                continue
            if position == 0:
                preferred.append(record)
            else:
                waited.append(record)
        room = max(0, min(limit - len(preferred), steal_limit - len(preferred)))
        return preferred + waited[:room]

    def _dispatch_settled(self) -> None:
        now = time.monotonic()
        batch: list[Job] = []
        for job_id, claim in list(self._claims.items()):
            current = self.state.get(job_id)
            still_mine = (
                current is not None
                and current.status is JobStatus.ASSIGNED
                and current.owner == self.node_id
                and current.attempt == claim.attempt
            )
            if not still_mine:
                del self._claims[job_id]
                continue
            if now < claim.settles_at:
                continue
            del self._claims[job_id]
            self._running[job_id] = claim.attempt
            if current.timeout is not None:
                self._deadlines[job_id] = now + current.timeout
            batch.append(Job.from_record(current, sink=self._on_job_finished))
        if batch:
            logger.info("node %s runs %d job(s)", self.node_id, len(batch))
            for job in batch:
                self._event("job", f"running {job.name} (attempt {job.attempt + 1})", job.id)
            self._work.put(batch)
