"""The replicated state: jobs and messages, merged as a join-semilattice.

Merging keeps, for each job id, the record with the greater merge order (see
`JobRecord.wins_over`), and for each message id the message itself, so merge
is commutative, associative and idempotent and replicas converge whatever
the gossip order.

Anti-entropy follows the scuttlebutt scheme. Every write is stamped with its
origin (the node process that made it) and that origin's version counter,
and a replica's digest maps each origin to the highest version it has taken
in. A peer then needs only the records whose stamp is newer than its digest
(`changes_for`), whichever node it talks to. So a round carries what changed
rather than what exists, and records are not sent back to where they came
from. Records that lost a merge are not kept: their winner travels under its
own stamp.
"""

from __future__ import annotations

import bisect
import random
import secrets
import threading
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass, field

from ants.node.job import JobRecord, JobStatus, Message

Stamp = tuple[str, int]
"""(origin, version) of one write."""


@dataclass(frozen=True, slots=True)
class Delta:
    """A batch of records and messages, as sent to or received from a peer.

    `stamps` gives the stamp of each record or message by key (a job id, or
    "m:" and a message id). `reach` maps each origin to the version up to
    which a replica that merges this delta has everything of that origin.
    """

    jobs: tuple[JobRecord, ...] = ()
    messages: tuple[Message, ...] = ()
    stamps: dict[str, Stamp] = field(default_factory=dict)
    reach: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.jobs) + len(self.messages)


class State:
    """Jobs and messages of one replica, safe to read from other threads.

    The node's runtime is the only writer. The transport reads it from the
    networking thread through `digest` and `changes_for`, under the same lock.
    """

    def __init__(self, origin: str | None = None) -> None:
        self._lock = threading.RLock()
        self.jobs: dict[str, JobRecord] = {}
        self.messages: dict[str, Message] = {}
        self.origin = origin or secrets.token_hex(8)
        """Origin stamped on this replica's own writes; unique per node process."""
        self.seq = 0
        """Number of changes this replica has taken in, its own or merged."""
        self._version = 0
        self._stamp_of: dict[str, Stamp] = {}
        self._versions: dict[str, list[int]] = {}
        """Origin -> sorted versions of the stamps held, and of some released ones."""
        self._released: dict[str, int] = {}
        """Origin -> number of released versions still in `_versions`."""
        self._keys: dict[str, dict[int, str]] = {}
        """Origin -> version -> key, for the stamps currently held."""
        self._seen: dict[str, int] = {}
        """The digest: origin -> highest version taken in."""
        self._by_status: dict[JobStatus, set[str]] = {status: set() for status in JobStatus}
        self.listener: Callable[[JobRecord], None] | None = None
        """Called with every record that wins a merge, under the state lock."""
        self.remove_listener: Callable[[str], None] | None = None
        """Called with the id of every job `remove_job` drops, under the state lock."""

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

    def count(self, status: JobStatus) -> int:
        return len(self._by_status[status])

    def sample_status(self, status: JobStatus, limit: int, rng: random.Random) -> list[JobRecord]:
        """Return the records in `status`, or `limit` of them chosen by `rng` when there are more."""
        with self._lock:
            ids = self._by_status[status]
            chosen = rng.sample(list(ids), limit) if len(ids) > limit else ids
            return [self.jobs[job_id] for job_id in chosen]

    def counts(self) -> dict[JobStatus, int]:
        with self._lock:
            return {status: len(ids) for status, ids in self._by_status.items()}

    def digest(self) -> dict[str, int]:
        """Return origin -> highest version taken in, to send to peers."""
        with self._lock:
            return dict(self._seen)

    def changes_for(
        self, digest: dict[str, int], limit: int, origins: Collection[str] | None = None
    ) -> tuple[Delta, bool]:
        """Return up to `limit` records a replica with `digest` lacks, and whether more remain.

        Records go out per origin in version order, and the delta's `reach`
        gives how far each origin is covered, so a cut delta still advances
        the receiver's digest exactly as far as it goes. With `origins`, only
        those origins' records are considered.
        """
        with self._lock:
            jobs: list[JobRecord] = []
            messages: list[Message] = []
            stamps: dict[str, Stamp] = {}
            reach: dict[str, int] = {}
            more = False
            for origin, seen in self._seen.items():
                known = digest.get(origin, 0)
                if seen <= known or (origins is not None and origin not in origins):
                    continue
                versions = self._versions.get(origin, [])
                keys = self._keys.get(origin, {})
                start = bisect.bisect_right(versions, known)
                reached = seen
                for position in range(start, len(versions)):
                    version = versions[position]
                    key = keys.get(version)
                    if key is None:
                        continue
                    if len(jobs) + len(messages) >= limit:
                        reached = version - 1
                        more = True
                        break
                    if key.startswith("m:"):
                        messages.append(self.messages[key[2:]])
                    else:
                        jobs.append(self.jobs[key])
                    stamps[key] = (origin, version)
                if reached > known:
                    reach[origin] = reached
                if more:
                    break
            return Delta(tuple(jobs), tuple(messages), stamps, reach), more

    def full_delta(self) -> Delta:
        return self.changes_for({}, len(self.jobs) + len(self.messages) + 1)[0]

    # Writing

    def _stamp(self, stamp: Stamp | None) -> Stamp:
        # Only own writes advance the digest here. A peer's stamps advance it
        # through a delta's `reach`, which vouches for every earlier version.
        if stamp is None:
            self._version += 1
            stamp = (self.origin, self._version)
            self._seen[self.origin] = self._version
        return stamp

    def _hold(self, key: str, stamp: Stamp) -> None:
        self._release(key)
        origin, version = stamp
        versions = self._versions.setdefault(origin, [])
        keys = self._keys.setdefault(origin, {})
        position = bisect.bisect_left(versions, version)
        if position < len(versions) and versions[position] == version:
            # A released stamp held again, such as a purged record received back.
            if version not in keys:
                self._released[origin] -= 1
        else:
            versions.insert(position, version)
        keys[version] = key
        self._stamp_of[key] = stamp
        self.seq += 1

    def _release(self, key: str) -> None:
        # The version stays in `_versions` until released ones are half of the
        # list: deleting from the middle of a long list costs a copy of its tail.
        old = self._stamp_of.pop(key, None)
        if old is None:
            return
        origin, version = old
        keys = self._keys.get(origin, {})
        if keys.pop(version, None) is None:
            return
        released = self._released.get(origin, 0) + 1
        versions = self._versions.get(origin, [])
        if 2 * released > len(versions):
            self._versions[origin] = [v for v in versions if v in keys]
            released = 0
        self._released[origin] = released

    def merge_job(self, record: JobRecord, stamp: Stamp | None = None) -> JobRecord | None:
        """Merge one record; return it if it replaced the local version.

        Without `stamp` the record is this replica's own write.
        """
        with self._lock:
            stamp = self._stamp(stamp)
            current = self.jobs.get(record.id)
            if current is not None:
                if current == record or not record.wins_over(current):
                    return None
                self._by_status[current.status].discard(record.id)
            self._by_status[record.status].add(record.id)
            self.jobs[record.id] = record
            self._hold(record.id, stamp)
            if self.listener is not None:
                self.listener(record)
            return record

    def merge_message(self, message: Message, stamp: Stamp | None = None) -> bool:
        with self._lock:
            stamp = self._stamp(stamp)
            if message.id in self.messages:
                return False
            self.messages[message.id] = message
            self._hold("m:" + message.id, stamp)
            return True

    def merge(self, other: State | Delta | Iterable[JobRecord]) -> list[JobRecord]:
        """Merge another replica or delta into this one; return the records that won."""
        if isinstance(other, State):
            other = other.full_delta()
        if isinstance(other, Delta):
            jobs: Iterable[JobRecord] = other.jobs
            messages: Iterable[Message] = other.messages
            stamps = other.stamps
            reach = other.reach
        else:
            jobs, messages, stamps, reach = other, (), {}, {}
        changed = []
        with self._lock:
            for record in jobs:
                if self.merge_job(record, stamps.get(record.id)) is not None:
                    changed.append(record)
            for message in messages:
                self.merge_message(message, stamps.get("m:" + message.id))
            for origin, version in reach.items():
                if version > self._seen.get(origin, 0):
                    self._seen[origin] = version
        return changed

    def remove_job(self, job_id: str) -> None:
        """Drop a purged record; it is not gossiped as a deletion."""
        with self._lock:
            record = self.jobs.pop(job_id, None)
            if record is not None:
                self._by_status[record.status].discard(job_id)
            self._release(job_id)
            if record is not None and self.remove_listener is not None:
                self.remove_listener(job_id)

    def remove_message(self, message_id: str) -> None:
        with self._lock:
            self.messages.pop(message_id, None)
            self._release("m:" + message_id)

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
