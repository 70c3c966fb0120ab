"""Push-pull anti-entropy without I/O, shared by the socket and in-memory transports.

Each replica numbers its changes (see `ants.node.state`). In every exchange
both sides say how far they have merged the other's changes (`have`), so the
other sends only records changed after that point: a round between nodes
that agree carries no records, and a round after k changes carries about k.
A delta larger than one frame is sent in several frames, each acknowledged
up to the sequence number it reaches, so an interrupted transfer resumes.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from ants.comm.membership import MemberTable
from ants.comm.wire import MAX_RECORDS_PER_FRAME, Frame, MessageType
from ants.node.state import Delta, State

logger = logging.getLogger(__name__)


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
        self._lock = threading.Lock()
        self._inbox: list[Delta] = []
        self._have: dict[str, tuple[int, int]] = {}
        """Peer id -> (its incarnation, its seq up to which this node has merged)."""
        self._peer_has: dict[str, tuple[int, int]] = {}
        """Peer id -> (this node's incarnation, seq up to which the peer has merged)."""
        self.on_delta: Callable[[Delta], None] | None = None

    @property
    def incarnation(self) -> int:
        return self.members.me.incarnation

    def take_inbox(self) -> list[Delta]:
        with self._lock:
            inbox, self._inbox = self._inbox, []
        return inbox

    def make_frame(self, message_type: MessageType, peer_id: str | None) -> Frame:
        """Build a frame for `peer_id` with the changes it has not acknowledged."""
        jobs: tuple = ()
        messages: tuple = ()
        reach = 0
        more = False
        state = self.state
        if state is not None and peer_id is not None:
            start = 0
            with self._lock:
                acked = self._peer_has.get(peer_id)
            if acked is not None and acked[0] == self.incarnation:
                start = acked[1]
            delta, reach, more = state.changes_since(start, self.max_records)
            jobs, messages = delta.jobs, delta.messages
        with self._lock:
            have = self._have.get(peer_id) if peer_id is not None else None
        return Frame(
            type=message_type,
            node_id=self.node_id,
            address=self.members.me.address,
            incarnation=self.incarnation,
            members=[],
            have=have,
            reach=reach,
            more=more,
            jobs=list(jobs),
            messages=list(messages),
        )

    def with_members(self, frame: Frame) -> Frame:
        from ants.comm.membership import member_from_wire

        frame.members = [member_from_wire(entry) for entry in self.members.to_wire()]
        return frame

    def absorb(self, frame: Frame) -> None:
        """Take in a peer's frame: its members, its delta and what it has of ours."""
        if frame.node_id == self.node_id:
            return
        self.members.merge(frame.members)
        with self._lock:
            # A peer without `have` holds nothing of ours (it may have restarted).
            if frame.have is None:
                self._peer_has.pop(frame.node_id, None)
            else:
                self._peer_has[frame.node_id] = frame.have
            previous = self._have.get(frame.node_id)
            if previous is None or previous[0] != frame.incarnation:
                if frame.record_count or frame.reach:
                    self._have[frame.node_id] = (frame.incarnation, frame.reach)
            elif frame.reach > previous[1]:
                self._have[frame.node_id] = (frame.incarnation, frame.reach)
            if frame.record_count:
                self._inbox.append(Delta(tuple(frame.jobs), tuple(frame.messages)))

    def forget(self, peer_id: str) -> None:
        with self._lock:
            self._have.pop(peer_id, None)
            self._peer_has.pop(peer_id, None)
