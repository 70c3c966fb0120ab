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


MAX_CLOCK_SKEW = 2.0
"""Seconds a job's creation time may lie in this node's future and still place
its claim turns. Beyond that, the node's own first sighting places them."""


STEAL_SETTLE_FACTOR = 3.0
"""How many times longer than its settle delay a claim made in a later turn
waits. Such a claim loses to any claim from an earlier turn, which may still
be on its way: waiting longer lets it learn so before its job runs."""
SETTLE_BACKOFF_MAX = 4.0
"""Largest factor by which a node stretches its settle delay after running
jobs that other nodes ran too."""
SETTLE_BACKOFF_HALF_LIFE = 30.0
"""Seconds in which the stretch of the settle delay halves without new duplicates."""
OUTCOMES_KEPT = 4096
"""Ids of jobs this node finished that it keeps, to notice a later rival result."""


@dataclass(slots=True)
class _Claim:
    attempt: int
    settles_at: float
    """Monotonic time after which the job runs if this node still owns it."""
    settles_after_beat: int
    """Beat from which the job runs: a starved process beats slower, and its
    claims then wait longer, as the gossip that carries competing claims does."""


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
        # A claim must have reached every competitor before its job runs, and
        # gossip needs about log(members) / log(fanout + 1) rounds for that.
        members = sum(1 for m in self.communication.members() if m.state == "alive")
        fanout = getattr(self.communication, "fanout", 1)
        delay = self.config.settle_delay_for(max(members, 1), fanout)
        # Turns keep the computed length, so that every node agrees on them.
        self._turn_seconds = delay + self.config.heartbeat_interval
        if self.config.settle_delay is None:
            now = time.monotonic()
            decay = 0.5 ** ((now - self._backoff_checked) / SETTLE_BACKOFF_HALF_LIFE)
            self._settle_backoff = 1.0 + (self._settle_backoff - 1.0) * decay
            self._backoff_checked = now
            delay *= self._settle_backoff
        self._settle_delay = delay

    def _note_rival(self, rival: JobRecord, ran: bool) -> None:
        """Stretch the settle delay: `rival` is another node's claim or outcome of a job this node claimed.

        Claim turns keep two nodes from claiming one job at once as long as a
        claim reaches the others within a turn. A rival claim that replaces
        this node's, or a rival outcome of a job this node ran (`ran`), shows
        that gossip is slower than the member count predicts, as on machines
        starved of CPU. Each such discovery doubles the delay, at most once per
        settle delay and up to SETTLE_BACKOFF_MAX times the computed one. The
        stretch decays over time. The turns keep their length, since every
        node must agree on them: a longer delay lets a claim that lost to an
        earlier turn's claim learn so before its job runs. A settle delay fixed
        in the config is kept as it is.
        """
        now = time.monotonic()
        if self.config.settle_delay is not None or now - self._backoff_raised < self._settle_delay:
            return
        self._backoff_raised = now
        backoff = min(SETTLE_BACKOFF_MAX, self._settle_backoff * 2)
        if backoff > self._settle_backoff:
            self._settle_backoff = backoff
            logger.info(
                "node %s %s job %s (%s) as node %s did; claims now settle %.1f times longer",
                self.node_id, "ran" if ran else "claimed", rival.id, rival.name, rival.owner,
                backoff,
            )

    def _remember_outcome(self, job_id: str) -> None:
        self._own_outcomes[job_id] = None
        if len(self._own_outcomes) > OUTCOMES_KEPT:
            self._own_outcomes.popitem(last=False)

    def _claim_jobs(self) -> None:
        self._update_settle_delay()
        owned = len(self._claims) + len(self._running)
        capacity = self.claim_window(preferred=True) - owned
        if capacity <= 0 or not self.state.count(JobStatus.PENDING):
            return
        pending = self.state.sample_status(JobStatus.PENDING, MAX_OFFERED, self._random)

        steal_capacity = max(0, self.claim_window(preferred=False) - owned)
        first, stolen = self._choose_claims(
            pending,
            min(capacity, self.config.claims_per_beat),
            min(steal_capacity, self.config.claims_per_beat),
        )
        claimed = self._write_claims(first, self._settle_delay)
        claimed += self._write_claims(stolen, self._settle_delay * STEAL_SETTLE_FACTOR)
        if claimed:
            logger.debug("node %s claimed %d job(s)", self.node_id, claimed)

    def _write_claims(self, records: list[JobRecord], settle: float) -> int:
        """Claim `records`, each to run after `settle` seconds and as many beats."""
        settles_at = time.monotonic() + settle
        settles_after_beat = self.beat + math.ceil(settle / self.config.heartbeat_interval)
        claimed = 0
        for record in records:
            claim = record.with_changes(status=JobStatus.ASSIGNED, owner=self.node_id)
            if self.state.merge_job(claim) is not None:
                self._claims[record.id] = _Claim(record.attempt, settles_at, settles_after_beat)
                claimed += 1
        return claimed

    def _track_pending(self, record: JobRecord) -> None:
        """Note when a pending attempt's claim turns began; forget jobs no longer pending.

        Called with every record that changes in the state. Turns begin when
        this node first finds the attempt pending, but for a first attempt no
        later than half a slot after the job was created (`created` is stamped
        when the job enters the cluster, and every node reads it from the
        record). So a node that learns of a job late joins the turns where the
        others are, instead of starting them over with turn 0 while others
        take theirs, and every node's schedule stays within the idle half-slot
        of the others'. Creation times come from the creator's wall clock:
        skew shifts turns but decides nothing, because the merge order alone
        picks the owner. A retry's turns begin when this node first finds it
        pending.
        """
        if record.status is not JobStatus.PENDING:
            self._forget_pending(record.id)
            return
        known = self._pending_since.get(record.id)
        if known is not None and known[0] == record.attempt:
            return
        now = time.monotonic()
        start = now
        wall = time.time()
        if record.attempt == 0 and record.created <= wall + MAX_CLOCK_SKEW:
            start = min(now, now - (wall - record.created) + self._turn_seconds / 2)
        self._pending_since[record.id] = (record.attempt, start)
        self._positions.pop(record.id, None)

    def _forget_pending(self, job_id: str) -> None:
        self._pending_since.pop(job_id, None)
        self._positions.pop(job_id, None)

    def _requested(self, records: list[JobRecord]) -> set[str]:
        """Offer pending jobs to assign_to_jobs; return the ids of those it requests."""
        if not records:
            return set()
        offered = [Job.from_record(record) for record in records]
        requested = self._call_hook("assign_to_jobs", offered) or []
        ids = set()
        for job in requested:
            if not isinstance(job, Job) or job.id in self._running:
                continue
            current = self.state.get(job.id)
            if current is not None and current.status is JobStatus.PENDING:
                ids.add(job.id)
        return ids

    def _position(self, record: JobRecord, others: frozenset[str]) -> int:
        """Return how many live peers rank above this node for this attempt, cached.

        A pending record keeps the owner of its failed or lost attempt, and
        every node moves that node to the end of the order, so a retry goes to
        another node when one is willing.
        """
        previous = record.owner
        if previous == self.node_id:
            return len(others)
        cached = self._positions.get(record.id)
        if cached is not None and cached[0] == record.attempt:
            return cached[1]
        job_id, attempt = record.id, record.attempt
        mine = rendezvous_rank(job_id, self.node_id, attempt)
        position = sum(
            1 for other in others
            if other != previous and rendezvous_rank(job_id, other, attempt) > mine
        )
        self._positions[job_id] = (attempt, position)
        return position

    def _choose_claims(
        self, pending: list[JobRecord], limit: int, steal_limit: int
    ) -> tuple[list[JobRecord], list[JobRecord]]:
        """Pick the jobs to claim: those whose claim slot belongs to this node now.

        Returns the jobs this node ranks first for, and those it takes in a
        later turn, from nodes that ranked higher but did not claim them.

        Rendezvous hashing over the alive and suspect members orders the nodes
        for every job. The time since the job's turns began (see `_track_pending`) is cut
        into slots of a computed settle delay plus a beat, and the k-th node of
        the order may claim the job only in the first half of slot k, cycling
        through the members. So the first node takes a job at once, and when
        it is busy, paused or does not want it the others take their turns one
        by one. No two nodes claim a job in the same slot, and the idle
        half-slot absorbs the difference between when nodes saw the job become
        pending. Claims made in a later turn settle longer
        (STEAL_SETTLE_FACTOR): such a claim loses to any claim from an earlier
        turn that may still be on its way, and the longer wait lets it learn
        so before its job runs.

        Only the jobs in this node's turn are offered to assign_to_jobs, so a
        beat's cost follows the jobs this node may take, not all pending ones.
        """
        # Suspect members keep their place in the order: on a starved machine
        # heartbeats arrive late, and dropping a member for a moment would
        # shift every node's turns and let two nodes claim at once. A member
        # that is really gone loses its turns once it is dead.
        others = frozenset(
            m.node_id for m in self.communication.members()
            if m.state in ("alive", "suspect") and m.node_id != self.node_id
        )
        now = time.monotonic()
        if others != self._ranked_among:
            self._ranked_among = others
            self._ranked_since = now
            self._positions.clear()
        if not others:
            # Alone, or before any peer has been heard: claim as cautiously as a
            # node taking others' work, since peers may be about to join.
            pending.sort(key=_creation_order)
            requested = self._requested(pending)
            chosen = [record for record in pending if record.id in requested]
            return chosen[: min(limit, steal_limit)], []
        step = self._turn_seconds
        cycle = len(others) + 1
        first: list[JobRecord] = []
        turns: list[tuple[int, JobRecord]] = []
        for record in pending:
            known = self._pending_since.get(record.id)
            start = known[1] if known is not None and known[0] == record.attempt else now
            # A new order starts its turns over. Every node learns of the member
            # change within about a gossip round of the others.
            slot, into_slot = divmod(now - max(start, self._ranked_since), step)
            if into_slot >= step / 2:
                continue
            position = self._position(record, others)
            if int(slot) % cycle != position:
                continue
            if position == 0:
                first.append(record)
            else:
                turns.append((position, record))
        first.sort(key=_creation_order)
        turns.sort(key=lambda item: (item[0], *_creation_order(item[1])))
        waited = [record for _, record in turns]
        requested = self._requested(first + waited)
        preferred = [record for record in first if record.id in requested][:limit]
        room = max(0, min(limit - len(preferred), steal_limit - len(preferred)))
        return preferred, [record for record in waited if record.id in requested][:room]

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
                if (
                    current is not None
                    and current.attempt == claim.attempt
                    and current.owner not in (None, self.node_id)
                ):
                    self._note_rival(current, ran=False)
                continue
            if now < claim.settles_at or self.beat < claim.settles_after_beat:
                continue
            del self._claims[job_id]
            self._running[job_id] = claim.attempt
            batch.append(Job.from_record(current, sink=self._on_job_finished))
        if not batch:
            return
        logger.info("node %s runs %d job(s)", self.node_id, len(batch))
        for job in batch:
            self._event("job", f"running {job.name} (attempt {job.attempt + 1})", job.id)
        # A job with a timeout goes to do_jobs alone, so that its deadline,
        # which starts when a worker takes its batch, counts its own run only.
        untimed = [job for job in batch if job.record.timeout is None]
        if untimed:
            self._work.put(untimed)
        for job in batch:
            if job.record.timeout is not None:
                self._work.put([job])


def _creation_order(record: JobRecord) -> tuple[float, str]:
    return (record.created, record.id)
