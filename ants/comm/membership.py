"""The member table: who is in the cluster, and whether they are alive.

Members gossip (incarnation, heartbeat) pairs. A node bumps its heartbeat
every beat and takes a new incarnation (its start time in milliseconds) on
every start, so a restarted node with a kept node id outranks its old self.
Liveness is judged on this node's monotonic clock only: a member whose pair
has not risen for `suspect_after` seconds is suspect, after `dead_after` it
is dead. A member that shuts down cleanly gossips `left` at once.

A dead or departed member is forgotten `forget_after` seconds after its pair
last rose. The table keeps the pair it had then, so a peer that still gossips
the old entry cannot bring the member back. Only a higher pair, from a member
that beats again or restarted, makes it a member again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from ants.errors import ProtocolError
from ants.node.identity import is_node_id
from ants.node.plain import short_repr
from ants.node.snapshot import MemberView

logger = logging.getLogger(__name__)

ALIVE, SUSPECT, DEAD, LEFT = "alive", "suspect", "dead", "left"

FORGOTTEN_KEPT_FACTOR = 10
"""How many times `forget_after` the pair of a forgotten member is kept. Each
peer drops the member `forget_after` after the pair last rose there, which is
within a few gossip rounds of the others unless a partition delayed the news,
so every peer has dropped the entry long before its pair is dropped here."""

MAX_ADDRESS_LENGTH = 300
"""Maximum length of an advertised host:port in characters, so a 253-character DNS name
and a port fit."""

EARLY_CHANGES_KEPT = 100
"""Changes a table keeps for a listener that `watch` has not registered yet."""


@dataclass(frozen=True, slots=True)
class MemberChange:
    """One change of another member, as logged: joined, state, restart or forgotten."""

    time: float
    """Wall-clock time of the change."""
    node_id: str
    text: str
    """The change in words, starting with the member's node id."""


MemberListener = Callable[[MemberChange], None]


@dataclass(slots=True)
class Member:
    """One row of the member table."""

    node_id: str
    address: str
    incarnation: int
    heartbeat: int
    left: bool = False
    last_rise: float = 0.0
    """Monotonic time at which (incarnation, heartbeat) last rose."""
    rtt: float | None = None
    judged: str = ALIVE
    """The state last logged, to log each change once."""

    def version(self) -> tuple[int, int, bool]:
        return (self.incarnation, self.heartbeat, self.left)

    def to_wire(self) -> list:
        return [self.node_id, self.address, self.incarnation, self.heartbeat, self.left]


def member_from_wire(fields: object) -> Member:
    """Decode and validate one member entry from a peer."""
    if not isinstance(fields, list) or len(fields) != 5:
        raise ProtocolError(
            f"member entry must be a list of 5 fields, got {short_repr(fields)}"
        )
    node_id, address, incarnation, heartbeat, left = fields
    if not is_node_id(node_id):
        raise ProtocolError(
            f"member node id {short_repr(node_id)} is not 16 lowercase hex characters"
        )
    if not isinstance(address, str) or len(address) > MAX_ADDRESS_LENGTH:
        raise ProtocolError(
            f"member {node_id} address {short_repr(address)} is not a string of at most "
            f"{MAX_ADDRESS_LENGTH} characters (MAX_ADDRESS_LENGTH)"
        )

    for name, value in (("incarnation", incarnation), ("heartbeat", heartbeat)):
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**63:
            raise ProtocolError(
                f"member {node_id} {name} {short_repr(value)} is not a non-negative integer"
            )
    if not isinstance(left, bool):
        raise ProtocolError(f"member {node_id} left flag {short_repr(left)} is not a bool")
    return Member(node_id, address, incarnation, heartbeat, left)


class MemberTable:
    """Members known to this node, merged from gossip and judged locally."""

    def __init__(
        self,
        node_id: str,
        address: str,
        suspect_after: float = 5.0,
        dead_after: float = 15.0,
        forget_after: float = 600.0,
    ) -> None:
        self.node_id = node_id
        self.suspect_after = suspect_after
        self.dead_after = dead_after
        self.forget_after = forget_after
        self._lock = threading.Lock()
        self.me = Member(node_id, address, int(time.time() * 1000), 0, last_rise=time.monotonic())
        self._members: dict[str, Member] = {node_id: self.me}
        self._forgotten: dict[str, tuple[tuple[int, int, bool], float]] = {}
        """Node id -> (version, monotonic time) of each member forgotten lately."""
        self._listener: MemberListener | None = None
        self.on_forget: Callable[[str], None] | None = None
        """Callback that receives the node id of each forgotten member, called after
        the table's lock is released."""
        self._early_changes: deque[MemberChange] = deque(maxlen=EARLY_CHANGES_KEPT)
        """Changes made before `watch` registered a listener, oldest first."""

    def watch(self, listener: MemberListener) -> None:
        """Register `listener` for every change, after replaying the changes kept.

        The listener runs on whichever thread merges or judges, with the
        table's lock held, so it must return at once, without waiting on
        another thread and without calling the table.
        """
        with self._lock:
            self._listener = listener
            early = list(self._early_changes)
            self._early_changes.clear()
            for change in early:
                listener(change)

    def _report_change(self, node_id: str, text: str) -> None:
        # Called under the lock, next to the log line of the same change.
        change = MemberChange(time.time(), node_id, text)
        if self._listener is None:
            self._early_changes.append(change)
        else:
            self._listener(change)

    def beat(self) -> None:
        with self._lock:
            self.me.heartbeat += 1
            self.me.last_rise = time.monotonic()

    def leave(self) -> None:
        with self._lock:
            self.me.left = True
            self.me.heartbeat += 1

    def set_address(self, address: str) -> None:
        with self._lock:
            self.me.address = address

    def to_wire(self) -> list[list]:
        with self._lock:
            return [member.to_wire() for member in self._members.values()]

    def merge(self, entries: list[Member]) -> None:
        """Merge entries from a peer; a higher (incarnation, heartbeat, left) wins.

        An entry of a forgotten member is taken in only when its version is
        higher than the one the member was forgotten with.
        """
        now = time.monotonic()
        with self._lock:
            for entry in entries:
                if entry.node_id == self.node_id:
                    continue
                current = self._members.get(entry.node_id)
                if current is None:
                    self._add(entry, now)
                    continue
                if entry.version() > current.version():
                    if entry.incarnation > current.incarnation:
                        logger.info(
                            "member %s at %s restarted (incarnation %d, was %d) while %s",
                            entry.node_id, entry.address, entry.incarnation,
                            current.incarnation, current.judged,
                        )
                        self._report_change(
                            entry.node_id,
                            f"{entry.node_id} at {entry.address} restarted "
                            f"while {current.judged}",
                        )
                    current.incarnation = entry.incarnation
                    current.heartbeat = entry.heartbeat
                    current.left = entry.left
                    current.address = entry.address
                    current.last_rise = now

    def _add(self, entry: Member, now: float) -> None:
        # Called under the lock, for a node id that is not in the table.
        forgotten = self._forgotten.get(entry.node_id)
        if forgotten is not None:
            if entry.version() <= forgotten[0]:
                return
            del self._forgotten[entry.node_id]
            logger.info(
                "member %s at %s is back after it was forgotten "
                "(incarnation %d, heartbeat %d, was %d, %d)",
                entry.node_id, entry.address, entry.incarnation, entry.heartbeat,
                forgotten[0][0], forgotten[0][1],
            )
            self._report_change(
                entry.node_id,
                f"{entry.node_id} at {entry.address} is back after it was forgotten",
            )
        entry.last_rise = now
        entry.judged = LEFT if entry.left else ALIVE
        self._members[entry.node_id] = entry
        logger.info(
            "member %s at %s joined the table as %s", entry.node_id, entry.address, entry.judged
        )
        self._report_change(
            entry.node_id, f"{entry.node_id} at {entry.address} joined as {entry.judged}"
        )

    def record_rtt(self, node_id: str, rtt: float) -> None:
        with self._lock:
            member = self._members.get(node_id)
            if member is not None:
                member.rtt = rtt

    def judge(self) -> None:
        """Recompute every member's state, log changes and forget long-gone members."""
        now = time.monotonic()
        forgotten: list[str] = []
        with self._lock:
            for member in list(self._members.values()):
                if member is self.me:
                    continue
                state = self._state_of(member, now)
                if state != member.judged:
                    silent = now - member.last_rise
                    logger.info(
                        "member %s at %s is now %s (was %s, heartbeat %d, silent %.1fs)",
                        member.node_id, member.address, state, member.judged,
                        member.heartbeat, silent,
                    )
                    self._report_change(
                        member.node_id,
                        f"{member.node_id} is now {state} (was {member.judged})",
                    )
                    member.judged = state
                if state in (DEAD, LEFT) and now - member.last_rise > self.forget_after:
                    del self._members[member.node_id]
                    self._forgotten[member.node_id] = (member.version(), now)
                    forgotten.append(member.node_id)
                    logger.info(
                        "member %s forgotten after %.0fs silent (incarnation %d, heartbeat %d)",
                        member.node_id, now - member.last_rise,
                        member.incarnation, member.heartbeat,
                    )
                    self._report_change(
                        member.node_id,
                        f"{member.node_id} forgotten after "
                        f"{now - member.last_rise:.0f}s silent",
                    )
            kept_until = now - FORGOTTEN_KEPT_FACTOR * self.forget_after
            for node_id, (_, forgotten_at) in list(self._forgotten.items()):
                if forgotten_at < kept_until:
                    del self._forgotten[node_id]
        if self.on_forget is not None:
            for node_id in forgotten:
                self.on_forget(node_id)

    def _state_of(self, member: Member, now: float) -> str:
        if member.left:
            return LEFT
        silent = now - member.last_rise
        if silent > self.dead_after:
            return DEAD
        if silent > self.suspect_after:
            return SUSPECT
        return ALIVE

    def get(self, node_id: str) -> Member | None:
        with self._lock:
            return self._members.get(node_id)

    def peers(self, *states: str) -> list[Member]:
        """Return members other than this node whose judged state is in `states`."""
        now = time.monotonic()
        with self._lock:
            return [
                m for m in self._members.values()
                if m is not self.me and self._state_of(m, now) in states
            ]

    def views(self) -> list[MemberView]:
        now = time.monotonic()
        with self._lock:
            views = []
            for member in self._members.values():
                is_self = member is self.me
                views.append(MemberView(
                    node_id=member.node_id,
                    address=member.address,
                    state=ALIVE if is_self and not member.left else self._state_of(member, now),
                    heartbeat=member.heartbeat,
                    last_heard=0.0 if is_self else now - member.last_rise,
                    rtt=member.rtt,
                    is_self=is_self,
                ))
            return views
