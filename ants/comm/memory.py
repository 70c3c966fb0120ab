"""An in-process transport for tests and simulations, with fault injection.

Nodes on one `MemoryNetwork` exchange real encoded frames through direct
calls, so the codec, delta sync and membership run as they do over TCP.
Random choices come from the network's seeded generator.
"""

from __future__ import annotations

import random
import threading
import time
from collections import deque
from typing import TYPE_CHECKING

from ants.comm.base import BaseCommunication
from ants.comm.gossip import GossipEngine
from ants.comm.membership import MemberTable
from ants.comm.wire import MessageType, decode_body, encode_frame
from ants.node.snapshot import MemberView, TrafficEvent
from ants.node.state import Delta, State

if TYPE_CHECKING:
    from ants.node.config import NodeConfig


class MemoryNetwork:
    """A set of in-memory nodes that can reach each other unless cut apart."""

    def __init__(self, seed: int = 0) -> None:
        self.random = random.Random(seed)
        self.nodes: dict[str, MemoryCommunication] = {}
        self._blocked: set[frozenset[str]] = set()
        self._isolated: set[str] = set()
        self._lock = threading.Lock()
        self.frames_sent = 0
        self.bytes_sent = 0

    def isolate(self, address: str) -> None:
        """Drop all traffic to and from `address` until `heal`."""
        self._isolated.add(address)

    def cut(self, a: str, b: str) -> None:
        """Drop traffic between two addresses until `heal`."""
        self._blocked.add(frozenset((a, b)))

    def heal(self) -> None:
        self._blocked.clear()
        self._isolated.clear()

    def can_reach(self, a: str, b: str) -> bool:
        if a in self._isolated or b in self._isolated:
            return False
        return frozenset((a, b)) not in self._blocked

    def deliver(self, sender: str, target: str, data: bytes) -> bytes | None:
        """Hand an encoded frame to `target`; return its encoded reply, or None if dropped."""
        receiver = self.nodes.get(target)
        if receiver is None or not receiver.running or not self.can_reach(sender, target):
            return None
        with self._lock:
            self.frames_sent += 1
            self.bytes_sent += len(data)
        return receiver.receive(data, sender)


class MemoryCommunication(BaseCommunication):
    """A transport whose peers are the other nodes on the same `MemoryNetwork`."""

    def __init__(
        self,
        network: MemoryNetwork,
        address: str,
        bootstrap: list[str] | None = None,
        fanout: int = 2,
    ) -> None:
        self.network = network
        self.address = address
        self.bootstrap = list(bootstrap or [])
        self.fanout = fanout
        self._timing = (1.5, 3.0, 60.0)
        self.engine: GossipEngine | None = None
        self.members_table: MemberTable | None = None
        self.running = False
        self._traffic: deque[TrafficEvent] = deque(maxlen=500)

    def apply_config(self, config: NodeConfig) -> None:
        self._timing = (config.suspect_after, config.dead_after, config.forget_after)

    def start(self, node_id: str) -> None:
        suspect_after, dead_after, forget_after = self._timing
        self.members_table = MemberTable(
            node_id, self.address, suspect_after, dead_after, forget_after
        )
        self.engine = GossipEngine(node_id, self.members_table)
        self.engine.notify = self._notify
        self.network.nodes[self.address] = self
        self.running = True

    def stop(self) -> None:
        if not self.running or self.members_table is None or self.engine is None:
            return
        self.members_table.leave()
        for member in self.members_table.peers("alive", "suspect"):
            frame = self.engine.make_frame(
                MessageType.LEAVE, self.engine.known_digest(member.node_id)
            )
            self.network.deliver(self.address, member.address, encode_frame(frame)[4:])
        self.running = False

    def _notify(self) -> None:
        if self.notify is not None:
            self.notify()

    def crash(self) -> None:
        """Stop replying at once, as a killed process would."""
        self.running = False

    def pull(self) -> list[State | Delta]:
        assert self.engine is not None
        return list(self.engine.take_inbox())

    def broadcast(self, state: State) -> None:
        assert self.engine is not None and self.members_table is not None
        if not self.running:
            return
        self.engine.state = state
        self.members_table.beat()
        self.members_table.judge()
        for address, peer_id in self._choose_peers():
            self._exchange(address, peer_id)

    def _choose_peers(self) -> list[tuple[str, str | None]]:
        assert self.members_table is not None
        live = self.members_table.peers("alive", "suspect")
        rng = self.network.random
        chosen = [(m.address, m.node_id) for m in rng.sample(live, min(self.fanout, len(live)))]
        known = {m.address for m in live}
        seeds = [a for a in self.bootstrap if a not in known and a != self.address]
        if seeds and (not live or rng.random() < 0.2):
            chosen.append((rng.choice(seeds), None))
        dead = self.members_table.peers("dead")
        if dead and rng.random() < 0.2:
            member = rng.choice(dead)
            chosen.append((member.address, member.node_id))
        return chosen

    def _exchange(self, address: str, peer_id: str | None) -> None:
        assert self.engine is not None and self.members_table is not None
        started = time.monotonic()
        sent = received = records_out = records_in = 0
        error = None
        peer_digest = self.engine.known_digest(peer_id)
        fresh = False
        for _ in range(64):
            frame = self.engine.make_frame(MessageType.EXCHANGE, peer_digest, fresh=fresh)
            data = encode_frame(frame)
            reply_data = self.network.deliver(self.address, address, data[4:])
            sent += len(data)
            records_out += frame.record_count
            if reply_data is None:
                error = "unreachable"
                break
            reply = decode_body(reply_data, address, tcp_addresses=False)
            received += len(reply_data) + 4
            records_in += reply.record_count
            self.engine.absorb(reply)
            peer_id = reply.node_id
            peer_digest = reply.digest
            if not self.engine.should_continue(frame, reply, fresh):
                break
            fresh = True
        duration = time.monotonic() - started
        if peer_id is not None and error is None:
            self.members_table.record_rtt(peer_id, duration)
        self._traffic.append(TrafficEvent(
            time.time(), address, peer_id, "out", sent, received, records_out, records_in,
            duration, error,
        ))

    def receive(self, data: bytes, sender: str) -> bytes | None:
        assert self.engine is not None
        frame = decode_body(data, sender, tcp_addresses=False)
        self.engine.absorb(frame)
        if frame.type is MessageType.LEAVE:
            return None
        reply = self.engine.make_frame(MessageType.REPLY, frame.digest)
        return encode_frame(reply)[4:]

    def members(self) -> list[MemberView]:
        if self.members_table is None:
            return []
        return self.members_table.views()

    def sync_behind(self) -> int:
        return self.engine.sync_behind() if self.engine is not None else 0

    def traffic(self) -> list[TrafficEvent]:
        return list(self._traffic)

    @property
    def listen_address(self) -> str:
        return self.address
