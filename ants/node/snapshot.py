"""Immutable views of a running node, for the dashboard and for tests."""

from __future__ import annotations

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
    text: str
    job_id: str | None = None


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

    def count(self, status: JobStatus) -> int:
        return self.counts.get(status, 0)

    def count_done(self) -> int:
        return self.counts.get(JobStatus.DONE, 0)
