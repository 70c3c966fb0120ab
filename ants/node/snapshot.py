"""Immutable views of a running node, for the dashboard and for tests."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ants.node.job import JobRecord, JobStatus


@dataclass(frozen=True, slots=True)
class MemberView:
    """One member of the cluster, as judged by this node."""

    node_id: str
    address: str
    """host:port the member advertises."""
    state: str
    """alive, suspect, dead or left."""
    heartbeat: int
    last_heard: float | None
    """Seconds since the member's heartbeat last rose, on this node's clock."""
    rtt: float | None
    """Round-trip time of the latest exchange with it, in seconds."""
    is_self: bool = False


@dataclass(frozen=True, slots=True)
class TrafficEvent:
    """One gossip exchange with a peer, as seen from this node."""

    time: float
    """Wall-clock time the exchange ended."""
    peer: str
    """The peer's host:port."""
    peer_id: str | None
    direction: str
    """"out" when this node started the exchange, "in" when the peer did."""
    bytes_out: int
    bytes_in: int
    records_out: int
    records_in: int
    duration: float
    """Seconds the exchange took."""
    error: str | None = None
    kind: str = "exchange"
    """"exchange" for a push-pull exchange, "leave" for a peer's departure notice."""


@dataclass(frozen=True, slots=True)
class NodeEvent:
    """A job or membership change, kept in a ring buffer for late viewers."""

    time: float
    kind: str
    """"job", "requeue", "action", "member", "node", "reload" or "hook"."""
    text: str
    job_id: str | None = None


@dataclass(frozen=True, slots=True)
class JobTransition:
    """One change of a job's record, as this node saw it."""

    time: float
    """Wall-clock time this node took the change in."""
    status: JobStatus
    owner: str | None
    attempt: int
    """Attempt number, from 0."""
    reason: str | None = None
    """The cause of a return to pending or of a failure, from the record's error."""


@dataclass(frozen=True, slots=True)
class JobChange:
    """One entry of the job change journal: a record that won a merge, or a purge."""

    version: int
    """Position in the journal; consecutive entries have consecutive versions."""
    job_id: str
    record: JobRecord | None
    """The new record, or None when the job was purged from the state."""


@dataclass(frozen=True, slots=True)
class NodeSnapshot:
    """Everything the dashboard shows, copied at one instant."""

    version: int
    """Rises whenever anything shown may have changed."""
    node_id: str
    node_class: str
    listen: str
    advertise: str
    beat: int
    uptime: float
    paused: bool
    observe: bool
    jobs: tuple[JobRecord, ...]
    counts: dict[JobStatus, int]
    members: tuple[MemberView, ...]
    traffic: tuple[TrafficEvent, ...]
    """Latest exchanges, oldest first."""
    rates: tuple[tuple[float, int, int, int, int], ...]
    """Per-second totals for the last minute:
    (second, bytes_out, bytes_in, records_out, records_in)."""
    events: tuple[NodeEvent, ...]
    reloads: int = 0
    reload_error: str | None = None
    warnings: tuple[str, ...] = field(default=())
    jobs_version: int = 0
    """Job changes this node had taken in when `jobs` was copied; `jobs` may
    already contain a few later ones."""
    job_changes: tuple[JobChange, ...] = field(default=())
    """The latest job changes, oldest first, up to at least `jobs_version`.
    A viewer that has seen version V applies the entries after V instead of
    rescanning `jobs`, unless the journal no longer reaches back to V."""
    assigned_since: Mapping[str, float] = field(default_factory=dict)
    """Job id -> wall-clock time this node first saw the current attempt of
    an assigned job assigned."""
    sync_behind: int = 0
    """Records live peers have advertised and this node has not taken in, at most:
    an upper bound, because overwritten records count too."""

    @property
    def syncing(self) -> bool:
        """Whether the node is still taking in records its peers already have."""
        return self.sync_behind > 0

    def count(self, status: JobStatus) -> int:
        return self.counts.get(status, 0)

    def count_done(self) -> int:
        return self.counts.get(JobStatus.DONE, 0)
