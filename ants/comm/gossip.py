"""Push-pull anti-entropy without I/O, shared by the socket and in-memory transports.

Each frame carries the sender's digest (origin -> highest version taken in,
see `ants.node.state`) and the records the receiver lacks according to the
receiver's latest digest known to the sender. An exchange between nodes that
agree is one round trip of two digests. After k changes it carries about k
records, whichever pair of nodes talks, and a large backlog goes out in
several frames, each advancing the receiver's digest as far as it reaches.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from ants.comm.membership import MemberTable, member_from_wire
from ants.comm.wire import MAX_RECORDS_PER_FRAME, Frame, MessageType
from ants.node.state import Delta, State


class GossipEngine:
    """Builds and absorbs exchange frames for one node."""

    def __init__(
        self,
        node_id: str,
        members: MemberTable,
        max_records: int = MAX_RECORDS_PER_FRAME,
    ) -> None:
        self.node_id = node_id
        self.members = members
        self.max_records = max_records
        self.state: State | None = None
        self.notify: Callable[[], None] | None = None
        """Called after a frame with records was absorbed."""
        self._lock = threading.Lock()
        self._inbox: list[Delta] = []
        self._inbox_reach: dict[str, int] = {}
        self._peer_digests: dict[str, dict[str, int]] = {}
        """Peer id -> the latest digest it sent."""

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
        if peer_id is None:
            return None
        with self._lock:
            return self._peer_digests.get(peer_id)

    def should_continue(self, sent: Frame, reply: Frame, sent_fresh: bool) -> bool:
        """Return whether an exchange needs another frame after `sent` and its `reply`.

        It does while either side's frame was cut at the record cap, and once
        after a first frame built on a stale digest if the reply's digest shows
        that the peer still lacks records this node holds.
        """
        if sent.more or reply.more:
            return True
        return not sent_fresh and self.has_changes_for(reply.digest)

    def has_changes_for(self, digest: dict[str, int]) -> bool:
        """Return whether this node has any record newer than `digest`."""
        return any(
            version > digest.get(origin, 0) for origin, version in self.digest().items()
        )

    def make_frame(
        self,
        message_type: MessageType,
        peer_digest: dict[str, int] | None,
        fresh: bool = True,
    ) -> Frame:
        """Build a frame with this node's digest and what `peer_digest` lacks.

        With no peer digest (a peer not heard from yet) the frame carries no
        records, and the peer's reply contains its digest. A digest that is not
        `fresh` was kept from an earlier exchange: the peer has probably had
        most of what it lacked then from other nodes since, so only this
        node's own writes go out on it, and the rest follows once the peer's
        reply has told what it still lacks.
        """
        # NOTE: every frame carries the whole member table and a digest entry per
        # writing node process, so frames grow with cluster size and restarts.
        frame = Frame(
            type=message_type,
            node_id=self.node_id,
            address=self.members.me.address,
            incarnation=self.incarnation,
            members=[member_from_wire(entry) for entry in self.members.to_wire()],
            digest=self.digest(),
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

    def absorb(self, frame: Frame) -> None:
        """Take in a peer's frame: its members, its digest and its records."""
        if frame.node_id == self.node_id:
            return
        self.members.merge(frame.members)
        received = bool(frame.record_count or frame.reach)
        with self._lock:
            self._peer_digests[frame.node_id] = frame.digest
            if received:
                self._inbox.append(
                    Delta(tuple(frame.jobs), tuple(frame.messages), frame.stamps, frame.reach)
                )
                for origin, version in frame.reach.items():
                    if version > self._inbox_reach.get(origin, 0):
                        self._inbox_reach[origin] = version
        if received and self.notify is not None:
            self.notify()

    def forget(self, peer_id: str) -> None:
        with self._lock:
            self._peer_digests.pop(peer_id, None)
