"""Frame-rate and connection limits per peer, and the bounded tables behind them."""

from __future__ import annotations

import logging
import socket
import struct
import threading
import time
from collections.abc import Iterator

import pytest
from helpers import LOOPBACK, wait_until

from ants import BaseNode, Job, JobStatus, NodeConfig, SocketCommunication
from ants.comm import limits
from ants.comm.crypto import Keyring
from ants.comm.limits import PeerGuard, TokenBucket
from ants.comm.membership import Member
from ants.comm.wire import Frame, MessageType, encode_frame

FLOODER_ID = "00000000000000c1"


class EchoNode(BaseNode):
    def do_jobs(self, my_assigned_jobs):
        for job in my_assigned_jobs:
            job.set_result({"by": self.node_id})


def start_node(bootstrap: list[str] | None = None, **options) -> EchoNode:
    communication = SocketCommunication(
        host=LOOPBACK, port=0, pull_interval=0.2, bootstrap_nodes=bootstrap or [], seed=11,
        **options,
    )
    node = EchoNode(NodeConfig.local(heartbeat_interval=0.2), communication)
    node.start()
    return node


@pytest.fixture
def nodes() -> Iterator[list[EchoNode]]:
    started: list[EchoNode] = []
    yield started
    for node in started:
        node.shutdown()


def port_of(node: BaseNode) -> int:
    return int(node.communication.listen_address.rsplit(":", 1)[1])


def hello(node_id: str = FLOODER_ID) -> bytes:
    return encode_frame(Frame(MessageType.EXCHANGE, node_id, f"{LOOPBACK}:1", 1))


def read_reply(connection: socket.socket) -> bool:
    """Read one reply frame; return False if the node closed the connection instead."""
    header = connection.recv(4, socket.MSG_WAITALL)
    if len(header) < 4:
        return False
    (length,) = struct.unpack(">I", header)
    return len(connection.recv(length, socket.MSG_WAITALL)) == length


def send_hellos(port: int, node_ids: list[str]) -> tuple[str, int]:
    """Send one frame per node id on one connection; return our address and the replies read."""
    with socket.create_connection((LOOPBACK, port), timeout=10) as connection:
        own = "{}:{}".format(*connection.getsockname())
        replies = 0
        for node_id in node_ids:
            try:
                connection.sendall(hello(node_id))
                if not read_reply(connection):
                    break
            except OSError:
                break
            replies += 1
    return own, replies


def test_connection_frame_rate_closes_connection(nodes, caplog):
    caplog.set_level(logging.WARNING, logger="ants")
    target = start_node(max_frames_per_second=20)
    nodes.append(target)

    # A new node id on every frame, so only the connection's own limit applies.
    node_ids = [f"{index:016x}" for index in range(1, 41)]
    own, replies = send_hellos(port_of(target), node_ids)

    assert 20 <= replies < 40
    expected = (
        f"closed connection from {own}: {own} sent more than 20 frames per second "
        "on one connection (max_frames_per_second)"
    )
    wait_until(
        lambda: any(r.getMessage() == expected for r in caplog.records),
        timeout=10,
        message=lambda: f"the warning {expected!r} in {caplog.text!r}",
    )
    assert target.communication.rejections["frame rate"] == 1


def test_node_id_frame_rate_spans_connections(nodes, caplog):
    caplog.set_level(logging.WARNING, logger="ants")
    target = start_node(max_frames_per_second=20)
    nodes.append(target)
    port = port_of(target)

    # One frame per connection, each claiming the same node id.
    answered = [send_hellos(port, [FLOODER_ID])[1] for _ in range(40)]
    other_id_answered = send_hellos(port, ["00000000000000c2"])[1]

    assert sum(answered) < 40
    assert other_id_answered == 1
    assert target.communication.rejections["frame rate"] == answered.count(0)
    assert any(
        f"node {FLOODER_ID} at {LOOPBACK}:" in r.getMessage()
        and "sent more than 20 frames per second (max_frames_per_second)" in r.getMessage()
        for r in caplog.records
    )


def flood(port: int, stop: threading.Event, deadline: float) -> int:
    """Send frames as fast as the node takes them, on one connection after another.

    Every frame claims a new node id, so only the per-connection limit stops
    it. Returns the number of connections opened: bounded by the deadline and
    by 2,000.
    """
    connections = 0
    next_id = 1
    while not stop.is_set() and time.monotonic() < deadline and connections < 2000:
        connections += 1
        node_ids = [f"{next_id + index:016x}" for index in range(300)]
        next_id += len(node_ids)
        send_hellos(port, node_ids)
    return connections


def test_flood_on_same_host_spares_honest_node(nodes):
    target = start_node()
    nodes.append(target)
    honest = start_node([target.communication.listen_address])
    nodes.append(honest)
    wait_until(
        lambda: len(target.communication.members()) == 2,
        timeout=10,
        message="the two nodes to see each other",
    )

    stop = threading.Event()
    flooder = threading.Thread(
        target=flood, args=(port_of(target), stop, time.monotonic() + 10.0), daemon=True
    )
    flooder.start()
    outbound = honest.communication.traffic
    try:
        wait_until(
            lambda: target.communication.rejections["frame rate"] >= 3,
            timeout=10,
            message="the flooder to be rate-limited three times",
        )
        before = len(outbound())
        jobs = [Job("during-flood", {"n": n}) for n in range(5)]
        for job in jobs:
            honest.add_job(job)

        def exchanges_to_target() -> list:
            return [
                e for e in outbound()[before:]
                if e.direction == "out" and e.peer == target.communication.listen_address
            ]

        def ten_exchanges() -> list:
            exchanges = exchanges_to_target()
            return exchanges if len(exchanges) >= 10 else []

        events = wait_until(
            ten_exchanges,
            timeout=15,
            message="ten exchanges from the honest node to the target",
        )
        flooding = flooder.is_alive()

        def all_done() -> bool:
            records = [target.state.get(job.id) for job in jobs]
            return all(r is not None and r.status is JobStatus.DONE for r in records)

        wait_until(all_done, timeout=15, message="the honest node's jobs done on the target")
    finally:
        stop.set()
        flooder.join(timeout=15)

    assert [e.error for e in events if e.error] == []
    assert flooding, "the flood ended before the honest exchanges were counted"
    assert target.communication.rejections["frame rate"] >= 3


def test_connections_per_host_limit(nodes, caplog):
    caplog.set_level(logging.WARNING, logger="ants")
    target = start_node(max_connections_per_host=4)
    nodes.append(target)
    port = port_of(target)

    open_connections = [socket.create_connection((LOOPBACK, port), timeout=10) for _ in range(4)]
    try:
        wait_until(
            lambda: target.communication.inbound_connections == 4,
            timeout=10,
            message="four inbound connections",
        )
        for _ in range(3):
            with socket.create_connection((LOOPBACK, port), timeout=10) as extra:
                assert extra.recv(1) == b""
    finally:
        for connection in open_connections:
            connection.close()

    assert target.communication.rejections["connection limit"] == 3
    assert target.communication.rejected_connections == 3
    assert any(
        "4 connections from 127.0.0.1 are open, the limit is 4 per host "
        "(max_connections_per_host)" in r.getMessage()
        for r in caplog.records
    )
    wait_until(
        lambda: target.communication.inbound_connections == 0,
        timeout=10,
        message="the held connections to close",
    )
    assert send_hellos(port, [FLOODER_ID])[1] == 1


# Bounded tables


def test_guard_tables_bounded_after_many_peers():
    guard = PeerGuard(max_frames_per_second=5)
    for index in range(10_000):
        host = f"10.{index // 65536}.{index // 256 % 256}.{index % 256}"
        guard.count_auth_failure(host)
        guard.warn(host, f"test warning from {host}")
        guard.check_node_rate(f"{index:016x}", f"{host}:1")

    sizes = guard.table_sizes()
    assert sizes["auth_failures"] == limits.MAX_TRACKED_PEERS
    assert sizes["node_buckets"] == limits.MAX_TRACKED_PEERS
    assert sizes["last_warning"] == limits.MAX_TRACKED_PEERS
    assert guard.auth_failures_total == 10_000
    assert "10.0.39.15" in guard.auth_failures
    assert "10.0.0.0" not in guard.auth_failures


def test_guard_keeps_recently_used_entry(monkeypatch):
    monkeypatch.setattr(limits, "MAX_TRACKED_PEERS", 4)
    guard = PeerGuard(max_frames_per_second=5)
    guard.count_auth_failure("10.0.0.1")
    for index in range(2, 20):
        guard.count_auth_failure(f"10.0.0.{index}")
        guard.count_auth_failure("10.0.0.1")

    assert len(guard.auth_failures) == 4
    assert guard.auth_failures["10.0.0.1"] == 19


def test_tables_bounded_after_many_source_ports(nodes, monkeypatch):
    monkeypatch.setattr(limits, "MAX_TRACKED_PEERS", 8)
    target = SocketCommunication(
        host=LOOPBACK, port=0, pull_interval=0.2, keyring=Keyring.from_env("A" * 43 + "="),
    )
    node = EchoNode(NodeConfig.local(heartbeat_interval=0.2), target)
    node.start()
    nodes.append(node)

    # Each plain frame comes from a new source port and fails authentication.
    for index in range(200):
        send_hellos(port_of(node), [f"{index + 1:016x}"])

    wait_until(
        lambda: target.guard.auth_failures_total == 200,
        timeout=10,
        message=lambda: f"200 failures, got {target.guard.auth_failures_total}",
    )
    assert target.auth_failures == {"127.0.0.1": 200}
    assert all(size <= 8 for size in target.guard.table_sizes().values())


def test_token_bucket_refills_at_rate():
    bucket = TokenBucket(rate=10, now=0.0)
    granted = sum(bucket.take(now=0.0) for _ in range(15))
    granted_after_refill = sum(bucket.take(now=0.5) for _ in range(15))

    assert granted == 10
    assert granted_after_refill == 5


def member_hello(node_id: str) -> bytes:
    """Return a frame from `node_id` that lists itself as a member and a digest of 50 origins."""
    address = f"{LOOPBACK}:1"
    digest = {f"{index:016x}/1": 1 for index in range(50)}
    frame = Frame(
        MessageType.EXCHANGE, node_id, address, 1,
        members=[Member(node_id, address, 1, 1)], digest=digest,
    )
    return encode_frame(frame)


def send_member_hello(port: int, node_id: str) -> None:
    with socket.create_connection((LOOPBACK, port), timeout=10) as connection:
        connection.sendall(member_hello(node_id))
        assert read_reply(connection)


def test_peer_digests_dropped_when_forgotten(nodes):
    config = NodeConfig.local(
        heartbeat_interval=0.1, suspect_after=0.2, dead_after=0.4, forget_after=2.0
    )
    node = EchoNode(config, SocketCommunication(host=LOOPBACK, port=0, pull_interval=0.1))
    node.start()
    nodes.append(node)
    engine = node.communication.engine
    claimed = [f"{0xABC0000000000000 + index:016x}" for index in range(30)]

    for node_id in claimed:
        send_member_hello(port_of(node), node_id)
    assert engine.peer_table_sizes() == {"peer_digests": 30, "peer_effective": 30}

    wait_until(
        lambda: engine.peer_table_sizes() == {"peer_digests": 0, "peer_effective": 0},
        timeout=10,
        message=lambda: f"empty digest tables, got {engine.peer_table_sizes()}",
    )
    members = {m.node_id for m in node.communication.members()}
    assert members.isdisjoint(claimed)
    assert engine.known_digest(claimed[0]) is None


def test_peer_digests_capped_over_many_ids(nodes):
    node = start_node()
    nodes.append(node)
    engine = node.communication.engine
    engine.max_peer_digests = 20
    claimed = [f"{0xABC0000000000000 + index:016x}" for index in range(60)]

    for node_id in claimed:
        send_member_hello(port_of(node), node_id)

    assert engine.peer_table_sizes() == {"peer_digests": 20, "peer_effective": 20}
    assert engine.known_digest(claimed[-1]) is not None
    assert engine.known_digest(claimed[0]) is None


def test_peer_digest_not_kept_for_non_member(nodes):
    node = start_node()
    nodes.append(node)

    # hello() lists no members, so its sender never joins the member table.
    assert send_hellos(port_of(node), [FLOODER_ID])[1] == 1

    assert node.communication.engine.peer_table_sizes()["peer_digests"] == 0
