"""TCP gossip: push-pull exchanges over asyncio, in the transport's own thread.

Every `pull_interval` seconds the node opens a connection to `fanout` random
live peers and runs a push-pull exchange (see `ants.comm.gossip`). Inbound
connections are served concurrently. A peer that sends a bad frame has its
connection closed and logged; other peers are not affected.

A backlog larger than one frame is streamed: while either side's frame was
capped (`more`), the exchange goes on over the same connection with the next
chunk, each computed against the digest the receiver sent last. It stops when
nothing is owed, after MAX_FRAMES_PER_EXCHANGE frames or after
MAX_EXCHANGE_SECONDS, and the rest follows in the next round. Every exchange
runs as its own task with timeouts on connect, read and write, so a slow or
silent peer holds up only its own exchange.

Connections are not kept open between rounds. Opening one costs about 0.15 ms
on loopback (asyncio open_connection and close, measured on a 2-core Xeon),
against a gossip interval of 0.2 s or more, and on a network one round trip,
which the streaming already saves for every chunk after the first. Kept
connections would hold inbound connection slots (`max_connections`) with idle
sockets, and each reuse would need a check that the peer had not closed its
end in the meantime.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import random
import socket
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from ants.comm.addresses import format_address, is_loopback, parse_address
from ants.comm.base import BaseCommunication
from ants.comm.crypto import (
    AuthenticationFailed,
    Channel,
    Keyring,
    challenge_frame,
    is_challenge,
    make_challenge,
)
from ants.comm.gossip import GossipEngine, effective_digest
from ants.comm.limits import PeerGuard
from ants.comm.membership import ALIVE, DEAD, LEFT, SUSPECT, MemberTable
from ants.comm.wire import (
    HEADER,
    MessageType,
    decode_body,
    encode_frame,
    read_challenge,
    read_frame,
)
from ants.errors import (
    ConfigError,
    FrameRateExceeded,
    FrameTooLarge,
    IncompleteFrame,
    ProtocolError,
    TransportError,
)
from ants.node.snapshot import MemberView, TrafficEvent

if TYPE_CHECKING:
    from ants.node.config import NodeConfig
    from ants.node.state import Delta, State

logger = logging.getLogger(__name__)

MAX_FRAMES_PER_EXCHANGE = 64
"""Frames each way in one exchange; a larger backlog continues next round."""
MAX_EXCHANGE_SECONDS = 30.0
"""Seconds after which an exchange sends no further frame; the rest continues next round.

A long exchange delays no other peer, because each exchange is its own task,
and ending one early makes the peers race to send the rest anew."""
STAGGER_SHARE = 0.5
"""Share of the gossip interval over which one round's exchanges are started."""
EAGER_PUSH_GAP = 0.05
"""Minimum seconds between two exchanges started by local changes rather than the timer."""


class SocketCommunication(BaseCommunication):
    """Gossip over TCP with peers found through `bootstrap_nodes`.

    Args:
        host: Address to listen on. Without a cluster key, keep it on loopback.
        port: Port to listen on; 0 picks a free one.
        pull_interval: Seconds between gossip rounds.
        bootstrap_nodes: Peers to contact first, as "host:port" or (host, port).
        advertise: "host:port" other nodes should use to reach this one.
        fanout: Peers contacted per round.
        connect_timeout: Seconds to wait for a peer to accept a connection.
        io_timeout: Seconds to wait for each frame, and for each write to drain.
        max_connections: Inbound connections open at once, from all hosts.
        max_connections_per_host: Inbound connections open at once from one IP
            address: a flood guard, set high enough for the nodes behind one address.
        keyring: The cluster keys; None sends and accepts plain frames.
        max_frames_per_second: Frames per second accepted on one inbound connection,
            and from one node id over all its connections.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        pull_interval: float = 1.0,
        bootstrap_nodes: list | None = None,
        *,
        advertise: str | None = None,
        fanout: int = 3,
        connect_timeout: float = 2.0,
        io_timeout: float = 5.0,
        max_connections: int = 256,
        max_connections_per_host: int = 32,
        seed: int | None = None,
        keyring: Keyring | None = None,
        max_frames_per_second: float = 200.0,
        my_public_ip: str | None = None,
    ) -> None:
        if not isinstance(port, int) or not 0 <= port <= 65535:
            raise ConfigError(f"invalid port {port!r}: use 0..65535 (0 picks a free port)")
        if not isinstance(pull_interval, (int, float)) or not pull_interval > 0:
            raise ConfigError(f"pull_interval must be a positive number of seconds, got {pull_interval!r}")
        if not isinstance(fanout, int) or fanout < 1:
            raise ConfigError(f"fanout must be an integer of at least 1, got {fanout!r}")
        self.host = host
        self.port = port
        self.pull_interval = float(pull_interval)
        self.fanout = fanout
        self.connect_timeout = connect_timeout
        self.io_timeout = io_timeout
        self.max_connections = max_connections
        self.max_connections_per_host = max_connections_per_host
        self._inbound_by_host: dict[str, int] = {}
        self.keyring = keyring
        self.max_frames_per_second = max_frames_per_second
        self.guard = PeerGuard(max_frames_per_second)
        self.seeds = [format_address(*parse_address(b, "bootstrap node")) for b in bootstrap_nodes or []]
        self._advertise_option = advertise
        if advertise is not None:
            parse_address(advertise, "advertise address")
        del my_public_ip  # The original ants needed it to avoid gossiping with itself.
        self._random = random.Random(seed)
        self._timing = (5.0, 15.0, 600.0)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.base_events.Server | None = None
        self._stopping: asyncio.Event | None = None
        self._bound_port = port
        self._inbound = 0
        self._traffic: deque[TrafficEvent] = deque(maxlen=1000)
        self._rates: deque[list] = deque(maxlen=60)
        self._warnings: list[str] = []
        self._seed_errors: dict[str, str] = {}
        """Bootstrap address -> error of the latest exchange with it, if it failed."""
        self.rejected_frames = 0
        self.rejected_connections = 0
        self._pushed_seq = 0
        self._push_task: asyncio.Future | None = None
        self._push_again = False
        self._in_flight: dict[str, asyncio.Future] = {}
        self.engine: GossipEngine | None = None
        self.members_table: MemberTable | None = None

    # Configuration and life cycle

    def apply_config(self, config: NodeConfig) -> None:
        self._timing = (config.suspect_after, config.dead_after, config.forget_after)

    @property
    def listen_address(self) -> str:
        return format_address(self.host, self._bound_port)

    @property
    def advertise_address(self) -> str:
        if self._advertise_option:
            return self._advertise_option
        host = self.host
        if host in ("0.0.0.0", "::", ""):
            host = socket.gethostbyname(socket.gethostname())
        return format_address(host, self._bound_port)

    @property
    def warnings(self) -> list[str]:
        return [
            *self._warnings,
            *self._bootstrap_warnings(),
            *self.guard.auth_failure_warnings(),
        ]

    def _bootstrap_warnings(self) -> list[str]:
        """Name the bootstrap nodes that failed, while this node has no live peer."""
        if self.members_table is None or self.members_table.peers(ALIVE, SUSPECT):
            return []
        return [
            f"no peers: bootstrap node {address} is unreachable ({error})"
            for address, error in list(self._seed_errors.items())
        ]

    @property
    def auth_failures(self) -> dict[str, int]:
        """Host -> frames from it that failed authentication, for the latest hosts."""
        return self.guard.auth_failures

    @property
    def rejections(self) -> dict[str, int]:
        """Kind -> inbound connections closed for it; the kinds are in `limits.REJECTION_KINDS`."""
        return self.guard.rejections

    @property
    def inbound_connections(self) -> int:
        return self._inbound

    def start(self, node_id: str) -> None:
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(self._bind())
            except BaseException as exc:
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_until_complete(self._gossip_forever())
            finally:
                loop.run_until_complete(self._close_server())
                _cancel_pending(loop)
                loop.close()

        self.node_id = node_id
        self._thread = threading.Thread(target=run, name="ants-gossip", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            exc = failure[0]
            if isinstance(exc, OSError):
                if exc.errno == errno.EADDRINUSE:
                    advice = "choose another --port or stop the process using it"
                else:
                    advice = "check --host: it must be an address of this machine"
                raise TransportError(
                    f"cannot listen on {format_address(self.host, self.port)}: "
                    f"{exc.strerror or exc}; {advice}"
                ) from exc
            raise exc
        suspect_after, dead_after, forget_after = self._timing
        self.members_table = MemberTable(
            node_id, self.advertise_address, suspect_after, dead_after, forget_after
        )
        self.engine = GossipEngine(node_id, self.members_table)
        self.engine.notify = self._notify
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._started.set)
        if not is_loopback(self.host) and self.keyring is None:
            text = (
                f"listening on {self.listen_address} without a cluster key: "
                "anyone who can reach this port can join the cluster"
            )
            self._warnings.append(text)
            logger.warning(text)

    async def _bind(self) -> None:
        self._stopping = asyncio.Event()
        self._started = asyncio.Event()
        self._server = await asyncio.start_server(
            self._serve, self.host, self.port, reuse_address=True, limit=2**16
        )
        sockets = self._server.sockets or []
        if sockets:
            self._bound_port = sockets[0].getsockname()[1]

    async def _close_server(self) -> None:
        if self._server is not None:
            self._server.close()
            try:
                await asyncio.wait_for(self._server.wait_closed(), 0.5)
            except (TimeoutError, asyncio.TimeoutError):
                pass

    def stop(self) -> None:
        loop = self._loop
        if loop is None or self._thread is None or loop.is_closed():
            return
        future = asyncio.run_coroutine_threadsafe(self._leave(), loop)
        try:
            future.result(timeout=1.5)
        except Exception as exc:
            logger.debug("leave announcement did not finish: %s", exc)
        if self._stopping is not None:
            loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(timeout=1.5)

    async def _leave(self) -> None:
        if self.members_table is None or self.engine is None:
            return
        self.members_table.leave()
        peers = self.members_table.peers("alive", "suspect")
        self._random.shuffle(peers)
        targets: list[tuple[str, str | None]] = [
            (m.address, m.node_id) for m in peers[: max(2 * self.fanout, 6)]
        ]
        # A seed not identified yet may still count this node as a member.
        known = {m.address for m in self.members_table.peers(ALIVE, SUSPECT, DEAD, LEFT)}
        targets += [(seed, None) for seed in self.seeds if seed not in known]
        await asyncio.gather(
            *(self._send_leave(address, peer_id) for address, peer_id in targets),
            return_exceptions=True,
        )
        logger.info("node %s announced leaving to %d peer(s)", self.node_id, len(targets))

    async def _send_leave(self, address: str, peer_id: str | None) -> None:
        # The frame carries the peer's missing records, so jobs this node just
        # handed back reach the cluster with the departure itself.
        assert self.engine is not None
        host, port = parse_address(address)
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 0.5)
        try:
            channel = await self._client_channel(reader, writer, address, timeout=0.5)
            frame = self.engine.make_frame(MessageType.LEAVE, self.engine.known_digest(peer_id))
            writer.write(encode_frame(frame, channel))
            await asyncio.wait_for(writer.drain(), 0.5)
        finally:
            writer.close()

    # Node-facing interface

    def pull(self) -> list[State | Delta]:
        if self.engine is None:
            return []
        return list(self.engine.take_inbox())

    def broadcast(self, state: State) -> None:
        if self.engine is None or self.members_table is None:
            return
        self.engine.state = state
        self.members_table.beat()
        loop = self._loop
        if state.seq != self._pushed_seq and loop is not None and not loop.is_closed():
            self._pushed_seq = state.seq
            try:
                loop.call_soon_threadsafe(self._schedule_push)
            except RuntimeError:
                pass

    def _notify(self) -> None:
        if self.notify is not None:
            self.notify()

    def _schedule_push(self) -> None:
        # At most one push at a time, and at most one per EAGER_PUSH_GAP seconds.
        if self._push_task is not None and not self._push_task.done():
            self._push_again = True
            return
        self._push_task = asyncio.ensure_future(self._eager_push())

    async def _eager_push(self) -> None:
        assert self.members_table is not None
        while True:
            self._push_again = False
            # A peer whose latest digest already covers every record here,
            # such as the one that just sent the change, gains nothing.
            own = self.engine.digest()
            live = [
                member
                for member in self.members_table.peers("alive", "suspect")
                if _lacks(self.engine.known_digest(member.node_id), own)
            ]
            targets = self._random.sample(live, min(self.fanout, len(live)))
            await self._stagger([(member.address, member.node_id) for member in targets])
            await asyncio.sleep(EAGER_PUSH_GAP)
            if not self._push_again:
                return

    def members(self) -> list[MemberView]:
        if self.members_table is None:
            return []
        return self.members_table.views()

    def sync_behind(self) -> int:
        return self.engine.sync_behind() if self.engine is not None else 0

    def traffic(self) -> list[TrafficEvent]:
        return list(self._traffic)

    def rates(self) -> list[tuple[float, int, int, int, int]]:
        return [tuple(bucket) for bucket in list(self._rates)]  # type: ignore[misc]

    # Gossip rounds

    async def _gossip_forever(self) -> None:
        assert self._stopping is not None
        await self._started.wait()
        while not self._stopping.is_set():
            started = time.monotonic()
            try:
                await self._gossip_round()
            except Exception:
                logger.exception("gossip round of node %s failed", self.node_id)
            delay = max(0.0, self.pull_interval - (time.monotonic() - started))
            try:
                await asyncio.wait_for(self._stopping.wait(), delay)
            except (TimeoutError, asyncio.TimeoutError):
                pass

    async def _gossip_round(self) -> None:
        assert self.members_table is not None
        if self.keyring is not None:
            self.keyring.refresh()
        self.members_table.judge()
        await self._stagger([(address, peer_id) for address, peer_id in self._choose_peers()])

    async def _stagger(self, targets: list[tuple[str, str | None]]) -> None:
        """Start an exchange with each target, each after the previous ended or a short wait.

        Exchanges run as independent tasks, so a slow or silent peer holds up
        the next start by at most STAGGER_SHARE of the gossip interval, never
        the round. Started one after another, each exchange sends this node's
        digest with what the previous ones brought, so peers do not all send
        it the same records at once.
        """
        wait = self.pull_interval * STAGGER_SHARE / max(1, len(targets))
        for address, peer_id in targets:
            task = self._start_exchange(address, peer_id)
            if task is not None:
                await asyncio.wait({task}, timeout=wait)

    def _start_exchange(self, address: str, peer_id: str | None) -> asyncio.Future | None:
        if address in self._in_flight:
            return None
        task = asyncio.ensure_future(self._exchange(address, peer_id))
        self._in_flight[address] = task
        task.add_done_callback(lambda _: self._in_flight.pop(address, None))
        return task

    def _choose_peers(self) -> list[tuple[str, str | None]]:
        assert self.members_table is not None
        live = self.members_table.peers("alive", "suspect")
        chosen: list[tuple[str, str | None]] = [
            (m.address, m.node_id)
            for m in self._random.sample(live, min(self.fanout, len(live)))
        ]
        known = {m.address for m in self.members_table.peers("alive", "suspect", "dead", "left")}
        known.add(self.advertise_address)
        unknown_seeds = [s for s in self.seeds if s not in known]
        if unknown_seeds and (not live or self._random.random() < 0.3):
            chosen.append((self._random.choice(unknown_seeds), None))
        dead = self.members_table.peers("dead")
        if dead and self._random.random() < 0.2:
            member = self._random.choice(dead)
            chosen.append((member.address, member.node_id))
        return chosen

    async def _exchange(self, address: str, peer_id: str | None) -> None:
        assert self.engine is not None and self.members_table is not None
        started = time.monotonic()
        sent = received = records_out = records_in = 0
        error: str | None = None
        writer = None
        stream = object()
        try:
            host, port = parse_address(address)
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(host, port), self.connect_timeout
            )
            channel = await self._client_channel(reader, writer, address)
            peer_digest = self.engine.known_digest(peer_id)
            fresh = False
            for _ in range(MAX_FRAMES_PER_EXCHANGE):
                frame = self.engine.make_frame(
                    MessageType.EXCHANGE, peer_digest, fresh=fresh, stream=stream
                )
                data = encode_frame(frame, channel)
                writer.write(data)
                await asyncio.wait_for(writer.drain(), self.io_timeout)
                sent += len(data)
                records_out += frame.record_count
                body = await asyncio.wait_for(read_frame(reader, address), self.io_timeout)
                if body is None:
                    raise ProtocolError(_no_reply(address, channel is not None, fresh))
                received += len(body) + 4
                reply = decode_body(body, address, channel)
                if reply.node_id == self.node_id:
                    if reply.address != self.advertise_address:
                        self._warn(address, (
                            f"{address} uses this node's id {self.node_id}; two nodes "
                            "share a --data-dir or a copied one, give each its own"
                        ))
                    self._drop_self_seed(address)
                    break
                self.engine.absorb(reply, stream)
                records_in += reply.record_count
                peer_id = reply.node_id
                peer_digest = effective_digest(reply)
                if not self.engine.should_continue(frame, reply, fresh):
                    break
                if time.monotonic() - started > MAX_EXCHANGE_SECONDS:
                    break
                fresh = True
        except ProtocolError as exc:
            error = str(exc)
            if isinstance(exc, AuthenticationFailed):
                self.guard.count_auth_failure(_host_of(address))
            self._warn(address, f"exchange with {address} rejected: {exc}")
        except ConfigError as exc:
            error = str(exc)
            self._warn(address, f"exchange with {address} skipped: {exc}")
        except (OSError, TimeoutError, asyncio.TimeoutError) as exc:
            error = _describe(exc)
            logger.debug("exchange with %s failed: %s", address, error)
            if address in self.seeds and not self.members_table.peers(ALIVE, SUSPECT):
                self._warn(address, (
                    f"bootstrap node {address} is unreachable: {error}; this node has "
                    "no peers yet and tries again each round, so check the address "
                    "and that a node listens there"
                ))
        finally:
            self.engine.end_stream(stream)
            if writer is not None:
                writer.close()
        if address in self.seeds:
            if error is None:
                self._seed_errors.pop(address, None)
            else:
                self._seed_errors[address] = error
        duration = time.monotonic() - started
        if peer_id is not None and error is None:
            self.members_table.record_rtt(peer_id, duration)
        self._record(TrafficEvent(
            time.time(), address, peer_id, "out", sent, received, records_out, records_in,
            duration, error,
        ))

    def _drop_self_seed(self, address: str) -> None:
        if address in self.seeds:
            self.seeds.remove(address)
            logger.info("bootstrap node %s is this node itself; not contacting it again", address)

    # Serving peers

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peername = writer.get_extra_info("peername") or ("?", 0)
        host = str(peername[0])
        peer = format_address(host, int(peername[1]))
        if not self._admit(host, peer):
            writer.close()
            return

        served = _Served(peer)
        try:
            await self._serve_frames(reader, writer, served)
        except ProtocolError as exc:
            served.error = str(exc)
            self.rejected_frames += 1
            self.guard.rejections[_rejection_kind(exc)] += 1
            if isinstance(exc, AuthenticationFailed):
                self.guard.count_auth_failure(host)
            self._warn(peer, f"closed connection from {peer}: {exc}")
        except _ReadTimedOut as exc:
            served.error = "timed out"
            self.guard.rejections["read timeout"] += 1
            self._warn(peer, f"closed connection from {peer}: {exc}")
        except (OSError, TimeoutError, asyncio.TimeoutError) as exc:
            served.error = _describe(exc)
            logger.debug("connection from %s ended: %s", peer, served.error)
        except asyncio.CancelledError:
            # The node is stopping. Returning instead of re-raising keeps Python
            # 3.11's stream callback from logging the cancellation as an error.
            served.error = "node stopped"
        except Exception:
            served.error = "internal error"
            logger.exception("serving %s failed", peer)
        finally:
            if self.engine is not None:
                self.engine.end_stream(served.stream)
            self._release(host)
            writer.close()

        if served.received:
            self._record(TrafficEvent(
                time.time(), peer, served.peer_id, "in", served.sent, served.received,
                served.records_out, served.records_in, time.monotonic() - served.started,
                served.error, served.kind,
            ))

    def _admit(self, host: str, peer: str) -> bool:
        """Take an inbound connection slot for `host`, or count and log the rejection."""
        from_host = self._inbound_by_host.get(host, 0)
        if self._inbound >= self.max_connections:
            reason = (
                f"{self._inbound} connections are open, the limit is "
                f"{self.max_connections} (max_connections)"
            )
        elif from_host >= self.max_connections_per_host:
            reason = (
                f"{from_host} connections from {host} are open, the limit is "
                f"{self.max_connections_per_host} per host (max_connections_per_host)"
            )
        else:
            self._inbound += 1
            self._inbound_by_host[host] = from_host + 1
            return True
        self.rejected_connections += 1
        self.guard.rejections["connection limit"] += 1
        self._warn(peer, f"rejected connection from {peer}: {reason}")
        return False

    def _release(self, host: str) -> None:
        self._inbound -= 1
        remaining = self._inbound_by_host.get(host, 1) - 1
        if remaining:
            self._inbound_by_host[host] = remaining
        else:
            self._inbound_by_host.pop(host, None)

    async def _serve_frames(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, served: _Served
    ) -> None:
        """Reply to each frame of an inbound connection until the peer closes or leaves."""
        peer = served.peer
        channel = None
        if self.keyring is not None:
            channel = await self._server_channel(reader, writer, peer)
            if channel is None:
                return

        bucket = self.guard.connection_bucket()
        while True:
            body = await self._read(reader, peer)
            if body is None:
                return
            served.received += len(body) + HEADER.size
            self.guard.check_connection_rate(bucket, peer)
            frame = decode_body(body, peer, channel)
            self.guard.check_node_rate(frame.node_id, peer)
            if self.engine is None:
                return
            self.engine.absorb(frame, served.stream)
            served.records_in += frame.record_count
            served.peer_id = frame.node_id
            if frame.type is MessageType.LEAVE:
                served.kind = "leave"
                return

            reply = self.engine.make_frame(
                MessageType.REPLY, effective_digest(frame), stream=served.stream
            )
            data = encode_frame(reply, channel)
            writer.write(data)
            await asyncio.wait_for(writer.drain(), self.io_timeout)
            served.sent += len(data)
            served.records_out += reply.record_count

    async def _read(
        self, reader: asyncio.StreamReader, peer: str, read: _FrameReader = read_frame
    ) -> bytes | None:
        """Read one frame body from an inbound connection with `read`, within io_timeout."""
        try:
            return await asyncio.wait_for(read(reader, peer), self.io_timeout)
        except (TimeoutError, asyncio.TimeoutError):
            raise _ReadTimedOut(
                f"{peer} sent no complete frame within {self.io_timeout:g} s (io_timeout)"
            ) from None

    async def _client_channel(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        address: str,
        timeout: float | None = None,
    ) -> Channel | None:
        """Send this side's challenge, read the server's, and return the sealing channel."""
        if self.keyring is None:
            return None
        challenge = make_challenge()
        writer.write(challenge_frame(challenge))
        body = await asyncio.wait_for(
            read_challenge(reader, address), timeout or self.io_timeout
        )
        if body is None or not is_challenge(body):
            raise AuthenticationFailed(
                f"{address} did not open with a challenge; it has no cluster key"
            )
        return Channel(self.keyring, body[1:], challenge, is_server=False)

    async def _server_channel(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: str
    ) -> Channel | None:
        """Send this side's challenge and read the client's; return None if it closed first."""
        assert self.keyring is not None
        self.keyring.refresh()
        challenge = make_challenge()
        writer.write(challenge_frame(challenge))
        body = await self._read(reader, peer, read_challenge)
        if body is None:
            return None
        if not is_challenge(body):
            raise AuthenticationFailed(
                f"{peer} did not open with a challenge; it has no cluster key"
            )
        return Channel(self.keyring, challenge, body[1:], is_server=True)

    # Bookkeeping

    def _record(self, event: TrafficEvent) -> None:
        self._traffic.append(event)
        second = float(int(event.time))
        if not self._rates or self._rates[-1][0] != second:
            self._rates.append([second, 0, 0, 0, 0])
        bucket = self._rates[-1]
        bucket[1] += event.bytes_out
        bucket[2] += event.bytes_in
        bucket[3] += event.records_out
        bucket[4] += event.records_in

    def _warn(self, peer: str, text: str) -> None:
        self.guard.warn(_host_of(peer), text)


_FrameReader = Callable[[asyncio.StreamReader, str], Awaitable["bytes | None"]]


class _ReadTimedOut(Exception):
    """An inbound connection that sent no complete frame within io_timeout."""


class _Served:
    """Counts and identity of one inbound connection, for its traffic event."""

    def __init__(self, peer: str) -> None:
        self.peer = peer
        self.started = time.monotonic()
        self.stream = object()
        """Token of this exchange for the gossip engine's stream bookkeeping."""
        self.sent = self.received = self.records_out = self.records_in = 0
        self.peer_id: str | None = None
        self.error: str | None = None
        self.kind = "exchange"


def _rejection_kind(exc: ProtocolError) -> str:
    if isinstance(exc, AuthenticationFailed):
        return "authentication"
    if isinstance(exc, FrameTooLarge):
        return "frame size"
    if isinstance(exc, IncompleteFrame):
        return "incomplete frame"
    if isinstance(exc, FrameRateExceeded):
        return "frame rate"
    return "invalid frame"


def _host_of(address: str) -> str:
    """Return the host of "host:port" or "[v6]:port", without brackets."""
    host = address.rsplit(":", 1)[0]
    return host[1:-1] if host.startswith("[") else host


def _cancel_pending(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel the exchanges and connections still open, and wait for them to end."""
    pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
    for task in pending:
        task.cancel()
    if pending:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))


def _no_reply(address: str, sealed: bool, answered_before: bool) -> str:
    """Return the error for a peer that closed the connection instead of replying."""
    text = f"{address} closed the connection without a reply"
    if sealed and not answered_before:
        # A node rejects a frame sealed with a key it does not hold by closing
        # the connection, and logs the reason only on its own side.
        text += (
            "; if it does so every round, the two nodes may hold different "
            "cluster keys: compare --secret-file or ANTS_SECRET on both"
        )
    return text


def _lacks(known: dict[str, int] | None, own: dict[str, int]) -> bool:
    """Return whether a peer whose latest digest is `known` may lack records
    of the digest `own`; True when its digest is not known."""
    if known is None:
        return True
    return any(version > known.get(origin, 0) for origin, version in own.items())


def _describe(exc: BaseException) -> str:
    if isinstance(exc, (TimeoutError, asyncio.TimeoutError)):
        return "timed out"
    return f"{type(exc).__name__}: {exc}"
