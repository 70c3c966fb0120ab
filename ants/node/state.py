"""The replicated state: jobs and messages, merged as a join-semilattice.

Merging keeps, for each job id, the record with the greater `merge_key`, and
for each message id the message itself, so merge is commutative, associative
and idempotent and replicas converge whatever the gossip order.

Each replica also numbers its own changes with a local sequence number. A
peer that has seen this replica's changes up to sequence number `n` needs
only the records changed after `n` (`changes_since`), which keeps a gossip
round proportional to what changed rather than to what exists.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from ants.node.job import JobRecord, JobStatus, Message


@dataclass(frozen=True, slots=True)
class Delta:
    """A batch of records and messages, as sent to or received from a peer."""

    jobs: tuple[JobRecord, ...] = ()
    messages: tuple[Message, ...] = ()

    def __len__(self) -> int:
        return len(self.jobs) + len(self.messages)


class State:
    """Jobs and messages of one replica, safe to read from other threads.

    The node's runtime is the only writer. The transport reads it from the
    networking thread through `changes_since`, under the same lock.
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self.jobs: dict[str, JobRecord] = {}
        self.messages: dict[str, Message] = {}
        self.seq = 0
        """Sequence number of this replica's latest change."""
        self._seq_of: dict[str, int] = {}
        self._log_seqs: list[int] = []
        self._log_keys: list[str] = []
        self._by_status: dict[JobStatus, set[str]] = {status: set() for status in JobStatus}
        self.listener: Callable[[JobRecord], None] | None = None
        """Called with every record that wins a merge, under the state lock."""

    # Reading

    def __len__(self) -> int:
        return len(self.jobs)

    def get(self, job_id: str) -> JobRecord | None:
        return self.jobs.get(job_id)

    def records(self) -> list[JobRecord]:
        with self._lock:
            return list(self.jobs.values())

    def with_status(self, status: JobStatus) -> list[JobRecord]:
        """Return the records in `status`, without scanning the others."""
        with self._lock:
            return [self.jobs[job_id] for job_id in self._by_status[status]]

    def counts(self) -> dict[JobStatus, int]:
        with self._lock:
            return {status: len(ids) for status, ids in self._by_status.items()}

    def changes_since(self, seq: int, limit: int) -> tuple[Delta, int, bool]:
        """Return up to `limit` records changed after `seq`, oldest change first.

        Returns the delta, the sequence number it reaches (a peer that merges
        it has everything up to there) and whether more changes remain.
        """
        with self._lock:
            start = bisect.bisect_right(self._log_seqs, seq)
            jobs: list[JobRecord] = []
            messages: list[Message] = []
            reached = seq
            index = start
            while index < len(self._log_seqs) and len(jobs) + len(messages) < limit:
                entry_seq = self._log_seqs[index]
                key = self._log_keys[index]
                index += 1
                if self._seq_of.get(key) != entry_seq:
                    continue
                reached = entry_seq
                if key.startswith("m:"):
                    message = self.messages.get(key[2:])
                    if message is not None:
                        messages.append(message)
                else:
                    record = self.jobs.get(key)
                    if record is not None:
                        jobs.append(record)
            # Entries left after `index` may all be stale, in which case the
            # next call returns an empty delta that reaches `self.seq`.
            more = index < len(self._log_seqs)
            if not more:
                reached = self.seq
            return Delta(tuple(jobs), tuple(messages)), reached, more

    def full_delta(self) -> Delta:
        with self._lock:
            return Delta(tuple(self.jobs.values()), tuple(self.messages.values()))

    # Writing

    def _touch(self, key: str) -> None:
        self.seq += 1
        self._seq_of[key] = self.seq
        self._log_seqs.append(self.seq)
        self._log_keys.append(key)
        if len(self._log_seqs) > 1024 and len(self._log_seqs) > 2 * len(self._seq_of):
            self._compact_log()

    def _compact_log(self) -> None:
        live = [
            (seq, key)
            for seq, key in zip(self._log_seqs, self._log_keys, strict=True)
            if self._seq_of.get(key) == seq
        ]
        self._log_seqs = [seq for seq, _ in live]
        self._log_keys = [key for _, key in live]

    def merge_job(self, record: JobRecord) -> JobRecord | None:
        """Merge one record; return it if it replaced the local version."""
        with self._lock:
            current = self.jobs.get(record.id)
            if current is not None:
                if current == record or not record.wins_over(current):
                    return None
            if current is not None:
                self._by_status[current.status].discard(record.id)
            self._by_status[record.status].add(record.id)
            self.jobs[record.id] = record
            self._touch(record.id)
            if self.listener is not None:
                self.listener(record)
            return record

    def merge_message(self, message: Message) -> bool:
        with self._lock:
            if message.id in self.messages:
                return False
            self.messages[message.id] = message
            self._touch("m:" + message.id)
            return True

    def merge(self, other: State | Delta | Iterable[JobRecord]) -> list[JobRecord]:
        """Merge another replica or delta into this one; return the records that won."""
        if isinstance(other, State):
            other = other.full_delta()
        if isinstance(other, Delta):
            jobs: Iterable[JobRecord] = other.jobs
            messages: Iterable[Message] = other.messages
        else:
            jobs, messages = other, ()
        changed = []
        with self._lock:
            for record in jobs:
                if self.merge_job(record) is not None:
                    changed.append(record)
            for message in messages:
                self.merge_message(message)
        return changed

    def remove_job(self, job_id: str) -> None:
        """Drop a purged record; it is not gossiped as a deletion."""
        with self._lock:
            record = self.jobs.pop(job_id, None)
            if record is not None:
                self._by_status[record.status].discard(job_id)
            self._seq_of.pop(job_id, None)

    def remove_message(self, message_id: str) -> None:
        with self._lock:
            self.messages.pop(message_id, None)
            self._seq_of.pop("m:" + message_id, None)

    def __iter__(self) -> Iterator[JobRecord]:
        return iter(self.records())

    def copy(self) -> State:
        """Return an independent replica with the same records and messages."""
        clone = State()
        clone.merge(self.full_delta())
        return clone

    def same_contents(self, other: State) -> bool:
        with self._lock:
            return self.jobs == other.jobs and self.messages.keys() == other.messages.keys()
