"""Push-pull anti-entropy without I/O, shared by the socket and in-memory transports.

Each frame carries the sender's digest (origin -> highest version taken in,
see `ants.node.state`) and the records the receiver lacks according to the
receiver's latest digest known to the sender. An exchange between nodes that
agree is one round trip of two digests. After k changes it carries about k
records, whichever pair of nodes talks, and a large backlog goes out in
several frames, each advancing the receiver's digest as far as it reaches.

A node that takes in such a backlog from one peer (the peer's frames have
`more` set) notes which origins that exchange is filling, and up to which
version, and lists them as `incoming` in its frames to every other peer.
Those peers then send nothing of these origins, so a newcomer is not sent the same backlog by several peers at once. The first
exchange to fill an origin keeps it until it ends or stalls for
MAX_CLAIM_SECONDS, so two exchanges never hold each other back.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from ants.comm.membership import MemberTable, member_from_wire
from ants.comm.wire import MAX_RECORDS_PER_FRAME, Frame, MessageType
from ants.node.state import Delta, State


SKIP_ORIGIN = 2**63 - 1
"""Digest version that makes `changes_for` send nothing of an origin."""
MAX_PEER_DIGESTS = 1024
"""Peers whose latest digest is kept; the least recently heard one is dropped first."""
MAX_CLAIM_SECONDS = 5.0
"""Seconds an exchange keeps origins listed as incoming after its latest frame with
records, so a stalled stream stops keeping other peers from sending them."""


class GossipEngine:
    """Builds and absorbs exchange frames for one node."""

    def __init__(
        self,
        node_id: str,
        members: MemberTable,
        max_records: int = MAX_RECORDS_PER_FRAME,
        max_peer_digests: int = MAX_PEER_DIGESTS,
    ) -> None:
        self.node_id = node_id
        self.members = members
        members.on_forget = self.forget
        self.max_records = max_records
        self.max_peer_digests = max_peer_digests
        self.state: State | None = None
        self.notify: Callable[[], None] | None = None
        """Called after a frame with records was absorbed."""
        self._lock = threading.Lock()
        self._inbox: list[Delta] = []
        self._inbox_reach: dict[str, int] = {}
        # Both tables keep only ids in the member table, at most max_peer_digests of them.
        # NOTE: one digest may list up to MAX_DIGEST_ENTRIES origins, so the bound
        # in bytes is max_peer_digests times that, not a fixed size.
        self._peer_digests: OrderedDict[str, dict[str, int]] = OrderedDict()
        """Peer id -> the latest digest it sent, least recently heard first."""
        self._peer_effective: dict[str, dict[str, int]] = {}
        """Peer id -> its latest digest, with the origins in the same frame's `incoming`
        set to SKIP_ORIGIN."""
        self._streams: dict[object, tuple[float, dict[str, int]]] = {}
        """Exchange token -> (monotonic time of its latest frame with records,
        origin -> version that exchange's peer is streaming here)."""

    @property
    def incarnation(self) -> int:
        return self.members.me.incarnation

    def take_inbox(self) -> list[Delta]:
        with self._lock:
            inbox, self._inbox = self._inbox, []
            self._inbox_reach = {}
        return inbox

    def digest(self) -> dict[str, int]:
        """Return the state's digest, counting deltas received but not merged yet."""
        digest = self.state.digest() if self.state is not None else {}
        with self._lock:
            for origin, version in self._inbox_reach.items():
                if version > digest.get(origin, 0):
                    digest[origin] = version
        return digest

    def known_digest(self, peer_id: str | None) -> dict[str, int] | None:
        """Return what `peer_id` has or has on its way, from its latest frame."""
        if peer_id is None:
            return None
        with self._lock:
            return self._peer_effective.get(peer_id)

    def sync_behind(self) -> int:
        """Return how many versions live peers have advertised that this node lacks.

        Sums, per origin, the highest version in a live peer's latest digest
        minus this node's own. That is an upper bound of the records missing,
        because a record overwritten at its origin used up a version too.
        """
        live = {member.node_id for member in self.members.peers("alive", "suspect")}
        own = self.digest()
        highest: dict[str, int] = {}
        with self._lock:
            for peer_id, digest in self._peer_digests.items():
                if peer_id not in live:
                    continue
                for origin, version in digest.items():
                    if version > highest.get(origin, 0):
                        highest[origin] = version
        return sum(
            max(0, version - own.get(origin, 0)) for origin, version in highest.items()
        )

    def should_continue(self, sent: Frame, reply: Frame, sent_fresh: bool) -> bool:
        """Return whether an exchange needs another frame after `sent` and its `reply`.

        It does while either side's frame was cut at the record cap, and once
        after a first frame built on a stale digest if the reply's digest shows
        that the peer still lacks records this node holds.
        """
        if sent.more or reply.more:
            return True
        return not sent_fresh and self.has_changes_for(effective_digest(reply))

    def has_changes_for(self, digest: dict[str, int]) -> bool:
        """Return whether this node has any record newer than `digest`."""
        return any(
            version > digest.get(origin, 0) for origin, version in self.digest().items()
        )

    def make_frame(
        self,
        message_type: MessageType,
        peer_digest: dict[str, int] | None,
        *,
        fresh: bool = True,
        stream: object = None,
    ) -> Frame:
        """Build a frame with this node's digest and what `peer_digest` lacks.

        With no peer digest (a peer not heard from yet) the frame carries no
        records, and the peer's reply contains its digest. A digest that is not
        `fresh` was kept from an earlier exchange: the peer has probably had
        most of what it lacked then from other nodes since, so only this
        node's own writes go out on it, and the rest follows once the peer's
        reply has listed what it still lacks. `stream` is the token of the
        exchange the frame belongs to: the origins that other exchanges are
        filling go into the frame's `incoming`.
        """
        # NOTE: every frame carries the whole member table and a digest entry per
        # writing node process, so frames grow with cluster size and restarts.
        with self._lock:
            incoming = self._incoming_except(stream)
        frame = Frame(
            type=message_type,
            node_id=self.node_id,
            address=self.members.me.address,
            incarnation=self.incarnation,
            members=[member_from_wire(entry) for entry in self.members.to_wire()],
            digest=self.digest(),
            incoming=incoming,
        )
        if self.state is not None and peer_digest is not None:
            origins = None if fresh else (self.state.origin,)
            delta, more = self.state.changes_for(peer_digest, self.max_records, origins)
            frame.jobs = list(delta.jobs)
            frame.messages = list(delta.messages)
            frame.stamps = delta.stamps
            frame.reach = delta.reach
            frame.more = more
        return frame

    def absorb(self, frame: Frame, stream: object = None) -> None:
        """Take in a peer's frame: its members, its digest and its records.

        `stream` is the token of the exchange the frame arrived in. When the
        frame has records and `more` set, the origins the peer is ahead on count
        as filled by that exchange until `end_stream(stream)`, a frame without
        `more`, or MAX_CLAIM_SECONDS without a frame with records.
        """
        if frame.node_id == self.node_id:
            return
        self.members.merge(frame.members)
        is_member = self.members.get(frame.node_id) is not None
        received = bool(frame.record_count or frame.reach)
        streaming = stream is not None and frame.more and frame.record_count > 0
        own = self.digest() if streaming else None
        with self._lock:
            if is_member:
                self._keep_digest(frame)
            if stream is not None:
                if own is None:
                    self._streams.pop(stream, None)
                else:
                    self._claim(stream, frame.digest, own)
            if received:
                self._inbox.append(
                    Delta(tuple(frame.jobs), tuple(frame.messages), frame.stamps, frame.reach)
                )
                for origin, version in frame.reach.items():
                    if version > self._inbox_reach.get(origin, 0):
                        self._inbox_reach[origin] = version
        if received and self.notify is not None:
            self.notify()

    def _keep_digest(self, frame: Frame) -> None:
        # Called under the lock.
        self._peer_digests[frame.node_id] = frame.digest
        self._peer_digests.move_to_end(frame.node_id)
        self._peer_effective[frame.node_id] = effective_digest(frame)
        while len(self._peer_digests) > self.max_peer_digests:
            oldest, _ = self._peer_digests.popitem(last=False)
            self._peer_effective.pop(oldest, None)

    def end_stream(self, stream: object) -> None:
        """Release the origins the exchange `stream` was filling."""
        with self._lock:
            self._streams.pop(stream, None)

    def _claim(self, stream: object, peer_digest: dict[str, int], own: dict[str, int]) -> None:
        # Called under the lock. An origin another exchange fills stays with it.
        claimed = self._incoming_except(stream)
        _, claims = self._streams.get(stream, (0.0, {}))
        for origin, version in peer_digest.items():
            if version > own.get(origin, 0) and origin not in claimed:
                claims[origin] = max(version, claims.get(origin, 0))
        self._streams[stream] = (time.monotonic(), claims)

    def _incoming_except(self, stream: object) -> dict[str, int]:
        # Called under the lock.
        incoming: dict[str, int] = {}
        oldest = time.monotonic() - MAX_CLAIM_SECONDS
        for token, (since, claims) in self._streams.items():
            if token is stream or since < oldest:
                continue
            for origin, version in claims.items():
                if version > incoming.get(origin, 0):
                    incoming[origin] = version
        return incoming

    def forget(self, peer_id: str) -> None:
        """Drop the digests kept for `peer_id`, a member the member table forgot."""
        with self._lock:
            self._peer_digests.pop(peer_id, None)
            self._peer_effective.pop(peer_id, None)

    def peer_table_sizes(self) -> dict[str, int]:
        """Return the number of entries of each table keyed by peer id, for diagnostics."""
        with self._lock:
            return {
                "peer_digests": len(self._peer_digests),
                "peer_effective": len(self._peer_effective),
            }


def effective_digest(frame: Frame) -> dict[str, int]:
    """Return the digest to send `frame`'s sender records against.

    That is the sender's digest, except that origins in its `incoming` are
    skipped whole, whatever their version. A delta's `reach` vouches for
    every version below it, so sending only the part above the streamed range
    would mark the range itself as received.
    """
    if not frame.incoming:
        return frame.digest
    effective = dict(frame.digest)
    for origin in frame.incoming:
        effective[origin] = SKIP_ORIGIN
    return effective
