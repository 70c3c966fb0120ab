"""A cluster key keeps outsiders out, rejects replays and rotates without downtime."""

from __future__ import annotations

import base64
import socket
import threading
import time

import pytest
from helpers import wait_until

from ants import BaseNode, Job, NodeConfig, SocketCommunication
from ants.comm.crypto import (
    CHALLENGE_BYTES,
    CHALLENGE_FRAME_BYTES,
    AuthenticationFailed,
    Channel,
    Keyring,
    challenge_frame,
    is_challenge,
    make_challenge,
)
from ants.comm.wire import (
    HEADER,
    MAX_FRAME_BYTES,
    PROTOCOL_VERSION,
    Frame,
    MessageType,
    encode_frame,
)


def make_key(fill: int) -> str:
    return base64.b64encode(bytes([fill]) * 32).decode()


class EchoNode(BaseNode):
    def do_jobs(self, my_assigned_jobs):
        for job in my_assigned_jobs:
            job.set_result({"by": self.node_id})


def start_node(keyring: Keyring | None, bootstrap: list[str] | None = None) -> EchoNode:
    communication = SocketCommunication(
        port=0, pull_interval=0.1, bootstrap_nodes=bootstrap or [], keyring=keyring, seed=1
    )
    node = EchoNode(NodeConfig.local(heartbeat_interval=0.1), communication)
    node.start()
    return node


def alive_peers(node: BaseNode) -> set[str]:
    return {m.node_id for m in node.snapshot().members if not m.is_self and m.state == "alive"}


@pytest.fixture
def nodes():
    started: list[EchoNode] = []
    yield started
    for node in started:
        node.shutdown()


def test_keyed_nodes_gossip(nodes):
    keyring = Keyring.from_env(make_key(1))
    first = start_node(keyring)
    nodes.append(first)
    nodes.append(start_node(Keyring.from_env(make_key(1)), [first.communication.listen_address]))
    assert wait_until(lambda: len(alive_peers(first)) == 1, 10)

    first.add_job(Job("sealed", {"n": 1})).result(timeout=5)
    assert wait_until(lambda: all(n.snapshot().count_done() == 1 for n in nodes), 10)


@pytest.mark.parametrize("outsider_key", [None, make_key(9)], ids=["no-key", "wrong-key"])
def test_outsider_cannot_join_or_inject(nodes, outsider_key):
    first = start_node(Keyring.from_env(make_key(1)))
    nodes.append(first)
    outsider = start_node(
        Keyring.from_env(outsider_key) if outsider_key else None,
        [first.communication.listen_address],
    )
    nodes.append(outsider)
    outsider.add_job(Job("injected", {"n": 2})).result(timeout=5)

    assert wait_until(lambda: sum(first.communication.auth_failures.values()) >= 3, 10)
    assert alive_peers(first) == set()
    assert alive_peers(outsider) == set()
    assert first.state.records() == []


def read_body(connection: socket.socket) -> bytes:
    header = connection.recv(HEADER.size, socket.MSG_WAITALL)
    (length,) = HEADER.unpack(header)
    return connection.recv(length, socket.MSG_WAITALL)


def open_sealed_connection(address: str, keyring: Keyring) -> tuple[socket.socket, Channel]:
    """Connect as a keyed client: send a challenge, read the node's, return the channel."""
    host, port = address.rsplit(":", 1)
    connection = socket.create_connection((host, int(port)), timeout=5)
    client_challenge = make_challenge()
    connection.sendall(challenge_frame(client_challenge))
    body = read_body(connection)
    assert is_challenge(body)
    return connection, Channel(keyring, body[1:], client_challenge, is_server=False)


def injected_frame(job: Job) -> Frame:
    record = job.record.with_changes(max_attempts=3, creator="f" * 16)
    origin = "f" * 16 + "/0"
    return Frame(
        MessageType.EXCHANGE, "f" * 16, "127.0.0.1:1", 1, jobs=[record],
        stamps={record.id: (origin, 1)}, reach={origin: 1},
    )


def test_replayed_frame_rejected(nodes):
    keyring = Keyring.from_env(make_key(1))
    target = start_node(Keyring.from_env(make_key(1)))
    nodes.append(target)
    address = target.communication.listen_address

    # An honest member sends a frame; an eavesdropper keeps a copy.
    connection, channel = open_sealed_connection(address, keyring)
    captured = encode_frame(injected_frame(Job("first", {"n": 1})), channel)
    connection.sendall(captured)
    connection.recv(HEADER.size, socket.MSG_WAITALL)
    assert wait_until(lambda: len(target.state.records()) == 1, 5)

    # The copy is rejected on the same connection (sequence) and on a new one (challenge).
    connection.sendall(captured)
    assert wait_until(lambda: target.communication.auth_failures.get("127.0.0.1") == 1, 5)
    connection.close()
    replay, _ = open_sealed_connection(address, keyring)
    replay.sendall(captured)
    assert wait_until(lambda: target.communication.auth_failures.get("127.0.0.1") == 2, 5)
    replay.close()
    assert len(target.state.records()) == 1


def test_channel_reply_bound_to_client_challenge():
    keyring = Keyring.from_env(make_key(1))
    server_challenge = make_challenge()
    recorded_for = Channel(keyring, server_challenge, make_challenge(), is_server=True)
    reply = recorded_for.seal(int(MessageType.REPLY), PROTOCOL_VERSION, b"records")

    fresh_client = Channel(keyring, server_challenge, make_challenge(), is_server=False)

    with pytest.raises(AuthenticationFailed):
        fresh_client.open(reply, "127.0.0.1:1")


def record_server_bytes(address: str, keyring: Keyring) -> bytes:
    """Run one honest exchange with the node at `address` and return every byte it sent.

    The client's frame carries an empty digest, so the node's reply carries
    all its records.
    """
    connection, channel = open_sealed_connection(address, keyring)
    with connection:
        hello = Frame(MessageType.EXCHANGE, "f" * 16, "127.0.0.1:1", 1)
        connection.sendall(encode_frame(hello, channel))
        reply = read_body(connection)
    challenge = channel.challenges[:CHALLENGE_BYTES]
    return challenge_frame(challenge) + HEADER.pack(len(reply)) + reply


class ReplayingServer:
    """A listener on 127.0.0.1 that sends the same recorded bytes on every connection."""

    def __init__(self, recorded: bytes) -> None:
        self.recorded = recorded
        self.connections = 0
        self._stop = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.address = "127.0.0.1:{}".format(self._listener.getsockname()[1])
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._listener.accept()
            except TimeoutError:
                continue
            self.connections += 1
            with connection:
                connection.settimeout(2)
                try:
                    connection.sendall(self.recorded)
                    while connection.recv(65536):
                        pass
                except OSError:
                    pass

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._listener.close()


def test_replayed_reply_rejected_by_connecting_node(nodes):
    # A member has a job, and an eavesdropper records its side of an exchange.
    member = start_node(Keyring.from_env(make_key(1)))
    nodes.append(member)
    member.add_job(Job("recorded", {"n": 1})).result(timeout=5)
    recorded = record_server_bytes(member.communication.listen_address,
                                   Keyring.from_env(make_key(1)))
    assert b"recorded" not in recorded, "the reply must be sealed"

    # The eavesdropper replies to every connection of another member with the recording.
    replayer = ReplayingServer(recorded)
    try:
        victim = start_node(Keyring.from_env(make_key(1)), [replayer.address])
        nodes.append(victim)
        assert wait_until(
            lambda: victim.communication.auth_failures.get("127.0.0.1", 0) >= 3, 10
        )
    finally:
        replayer.close()

    assert replayer.connections >= 3
    assert victim.state.records() == []
    assert alive_peers(victim) == set()


def test_key_rotation_keeps_cluster_talking(nodes, tmp_path):
    old, new = make_key(1), make_key(2)
    files = [tmp_path / f"secret{i}" for i in range(3)]
    for path in files:
        path.write_text(old + "\n")
    first = start_node(Keyring.from_file(files[0]))
    nodes.append(first)
    for path in files[1:]:
        nodes.append(start_node(Keyring.from_file(path), [first.communication.listen_address]))
    assert wait_until(lambda: all(len(alive_peers(n)) == 2 for n in nodes), 10)

    steps = [f"{old}\n{new}\n", f"{new}\n{old}\n", f"{new}\n"]
    for number, text in enumerate(steps):
        for path in files:
            path.write_text(text)
        primary = base64.b64decode(text.split()[0])
        assert wait_until(
            lambda p=primary: all(n.communication.keyring.primary == p for n in nodes), 10
        )
        nodes[number].add_job(Job("during-rotation", {"step": number})).result(timeout=5)
        assert wait_until(
            lambda c=number + 1: all(n.snapshot().count_done() == c for n in nodes), 10
        ), f"jobs stopped completing at rotation step {number}"

    assert all(len(alive_peers(n)) == 2 for n in nodes)
    assert all(sum(n.communication.auth_failures.values()) == 0 for n in nodes)


def test_shared_secret_file_warns(tmp_path, caplog):
    path = tmp_path / "cluster.key"
    path.write_text(make_key(7) + "\n")
    path.chmod(0o644)

    with caplog.at_level("WARNING", logger="ants.comm.crypto"):
        Keyring.from_file(path)

    assert "chmod 600" in caplog.text
    assert str(path) in caplog.text


def test_private_secret_file_is_quiet(tmp_path, caplog):
    path = tmp_path / "cluster.key"
    path.write_text(make_key(7) + "\n")
    path.chmod(0o600)

    with caplog.at_level("WARNING", logger="ants.comm.crypto"):
        Keyring.from_file(path)

    assert "chmod" not in caplog.text


def test_wrong_key_node_told_to_compare_keys(nodes, caplog):
    first = start_node(Keyring.from_env(make_key(1)))
    nodes.append(first)
    outsider = start_node(
        Keyring.from_env(make_key(9)), [first.communication.listen_address]
    )
    nodes.append(outsider)
    hint = "the two nodes may hold different cluster keys"

    assert wait_until(
        lambda: any(hint in record.getMessage() for record in caplog.records), 10
    )
    warning = next(r.getMessage() for r in caplog.records if hint in r.getMessage())
    assert first.communication.listen_address in warning


def test_oversized_opening_frame_closed_unread(nodes, caplog):
    caplog.set_level("WARNING", logger="ants")
    target = start_node(Keyring.from_env(make_key(1)))
    nodes.append(target)
    host, port = target.communication.listen_address.rsplit(":", 1)
    claimed = MAX_FRAME_BYTES - 1

    with socket.create_connection((host, int(port)), timeout=5) as connection:
        own = "{}:{}".format(*connection.getsockname())
        assert is_challenge(read_body(connection))
        started = time.monotonic()
        connection.sendall(HEADER.pack(claimed) + b"S" * 100)
        # The node closes at the prefix; io_timeout (5 s) would pass if it waited
        # for the rest of the body.
        assert connection.recv(1) == b""
        elapsed = time.monotonic() - started

    assert elapsed < 2.0
    expected = (
        f"closed connection from {own}: the first frame from {own} is {claimed} bytes, "
        f"but a challenge frame is {CHALLENGE_FRAME_BYTES} (CHALLENGE_FRAME_BYTES)"
    )
    assert wait_until(
        lambda: any(expected in r.getMessage() for r in caplog.records),
        5,
        message=lambda: f"a warning containing {expected!r} in {caplog.text!r}",
    )
    assert target.communication.rejections["authentication"] == 1


def test_oversized_challenge_reply_rejected(nodes, caplog):
    caplog.set_level("WARNING", logger="ants")
    claimed = MAX_FRAME_BYTES - 1
    with socket.create_server(("127.0.0.1", 0)) as listener:
        address = "127.0.0.1:{}".format(listener.getsockname()[1])
        accepted: list[socket.socket] = []

        def serve_oversized_prefix() -> None:
            connection, _ = listener.accept()
            accepted.append(connection)
            connection.sendall(HEADER.pack(claimed) + b"S" * 100)

        server = threading.Thread(target=serve_oversized_prefix, daemon=True)
        server.start()
        nodes.append(start_node(Keyring.from_env(make_key(1)), [address]))

        expected = (
            f"exchange with {address} rejected: the first frame from {address} is "
            f"{claimed} bytes, but a challenge frame is {CHALLENGE_FRAME_BYTES} "
            "(CHALLENGE_FRAME_BYTES)"
        )
        assert wait_until(
            lambda: any(expected in r.getMessage() for r in caplog.records),
            # io_timeout is 5 s: a node that waited for the body would time out instead.
            3,
            message=lambda: f"a warning containing {expected!r} in {caplog.text!r}",
        )
        server.join(timeout=5)
        for connection in accepted:
            connection.close()
