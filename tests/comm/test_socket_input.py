"""Bad input to SocketCommunication: garbage frames, bad addresses, bad options."""

from __future__ import annotations

import logging
import random
import socket
import struct
from collections.abc import Iterator

import msgpack
import pytest
from helpers import LOOPBACK, free_port, wait_until

from ants import BaseNode, ConfigError, Job, JobStatus, NodeConfig, SocketCommunication
from ants.comm.wire import (
    MAX_FRAME_BYTES,
    PROTOCOL_VERSION,
    Frame,
    MessageType,
    encode_frame,
)

SOCKET_LOGGER = "ants.comm.socket"


class EchoNode(BaseNode):
    def do_jobs(self, my_assigned_jobs: list[Job]) -> None:
        for job in my_assigned_jobs:
            job.set_result({"by": self.node_id})


def start_node(bootstrap: list[str]) -> EchoNode:
    communication = SocketCommunication(
        host=LOOPBACK, port=0, pull_interval=0.2, bootstrap_nodes=bootstrap, seed=7
    )
    node = EchoNode(NodeConfig.local(), communication)
    node.start()
    return node


def alive_peer_ids(node: BaseNode) -> set[str]:
    return {
        m.node_id
        for m in node.communication.members()
        if not m.is_self and m.state == "alive"
    }


@pytest.fixture
def honest_pair() -> Iterator[tuple[EchoNode, EchoNode]]:
    """Two connected nodes on 127.0.0.1, the second bootstrapped through the first."""
    target = start_node([])
    other = start_node([target.communication.listen_address])
    try:
        wait_until(
            lambda: (
                other.node_id in alive_peer_ids(target)
                and target.node_id in alive_peer_ids(other)
            ),
            timeout=10,
            message="the two nodes to see each other",
        )
        yield target, other
    finally:
        other.shutdown()
        target.shutdown()


def port_of(node: BaseNode) -> int:
    return int(node.communication.listen_address.rsplit(":", 1)[1])


def send_raw(port: int, data: bytes) -> tuple[str, bytes]:
    """Send `data` on a new connection, close our side, read until the node closes.

    Returns our own address as the node reports it, and what the node sent back.
    """
    with socket.create_connection((LOOPBACK, port), timeout=10) as connection:
        own = "{}:{}".format(*connection.getsockname())
        connection.sendall(data)
        connection.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
    return own, received


def framed(body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + body


def random_29_bytes() -> bytes:
    rng = random.Random(29)
    return bytes(rng.getrandbits(8) for _ in range(29))


GARBAGE = [
    pytest.param(random_29_bytes(), id="29-random-bytes"),
    pytest.param(framed(b"\xc1\x92\xff" * 7), id="msgpack-garbage"),
    pytest.param(
        struct.pack(">I", MAX_FRAME_BYTES + 1) + b"\x00" * 16, id="oversized-prefix"
    ),
    pytest.param(struct.pack(">I", 500) + b"\x00" * 10, id="truncated-frame"),
    pytest.param(
        framed(msgpack.packb({"v": PROTOCOL_VERSION + 1, "t": 1}, use_bin_type=True)),
        id="wrong-version",
    ),
    pytest.param(
        framed(msgpack.packb({"v": PROTOCOL_VERSION, "t": 99}, use_bin_type=True)),
        id="unknown-type",
    ),
]


def add_jobs_and_wait(source: EchoNode, observers: list[EchoNode], name: str) -> None:
    jobs = [Job(name, {"n": n}) for n in range(10)]
    for job in jobs:
        source.add_job(job)

    def all_done() -> bool:
        for node in observers:
            for job in jobs:
                record = node.state.get(job.id)
                if record is None or record.status is not JobStatus.DONE:
                    return False
        return True

    wait_until(all_done, timeout=20, message=f"jobs {name!r} done on every node")


@pytest.mark.parametrize("data", GARBAGE)
def test_garbage_frame_logged_and_gossip_continues(honest_pair, caplog, data):
    caplog.set_level(logging.WARNING, logger="ants")
    target, other = honest_pair

    own_address, reply = send_raw(port_of(target), data)

    assert reply == b""
    warnings = wait_until(
        lambda: [
            r
            for r in caplog.records
            if r.name == SOCKET_LOGGER
            and r.levelno == logging.WARNING
            and f"closed connection from {own_address}" in r.getMessage()
        ],
        timeout=10,
        message=f"a warning naming {own_address}",
    )
    assert len(warnings) == 1
    assert target.communication.rejected_frames == 1
    add_jobs_and_wait(other, [target, other], "after-garbage")
    assert other.node_id in alive_peer_ids(target)


def test_garbage_kinds_all_counted_by_one_node(honest_pair):
    target, other = honest_pair

    for param in GARBAGE:
        send_raw(port_of(target), param.values[0])

    wait_until(
        lambda: target.communication.rejected_frames == len(GARBAGE),
        timeout=10,
        message=lambda: (
            f"{len(GARBAGE)} rejected frames, "
            f"got {target.communication.rejected_frames}"
        ),
    )
    add_jobs_and_wait(other, [target, other], "after-all-garbage")


def test_oversized_prefix_warning_names_limit(honest_pair, caplog):
    caplog.set_level(logging.WARNING, logger="ants")
    target, _ = honest_pair

    own_address, _ = send_raw(port_of(target), struct.pack(">I", MAX_FRAME_BYTES + 1))

    expected = (
        f"closed connection from {own_address}: frame from {own_address} is "
        f"{MAX_FRAME_BYTES + 1} bytes, limit is {MAX_FRAME_BYTES} (MAX_FRAME_BYTES)"
    )
    wait_until(
        lambda: any(r.getMessage() == expected for r in caplog.records),
        timeout=10,
        message=lambda: f"the warning {expected!r} in {caplog.text!r}",
    )


def frame_with_records(records: list) -> bytes:
    origin = "0badbadbadbadbad/1"
    body = {
        "v": PROTOCOL_VERSION,
        "t": 1,
        "id": "0badbadbadbadbad",
        "addr": f"{LOOPBACK}:1",
        "inc": 1,
        "members": [],
        "dig": {origin: len(records)},
        "reach": {origin: len(records)},
        "more": False,
        "jobs": [[origin, index + 1, fields] for index, fields in enumerate(records)],
        "msgs": [],
    }
    return framed(msgpack.packb(body, use_bin_type=True))


def test_invalid_record_rejects_frame_whole(honest_pair, caplog):
    caplog.set_level(logging.WARNING, logger="ants")
    target, _ = honest_pair
    valid = Job("valid", {"n": 1}).record.with_changes(max_attempts=3, created=1000.0)
    invalid = Job("invalid", {"n": 2}).record.with_changes(
        max_attempts=3, created=float("nan")
    )

    own_address, _ = send_raw(
        port_of(target), frame_with_records([valid.to_wire(), invalid.to_wire()])
    )

    expected = (
        f"closed connection from {own_address}: frame from {own_address} has an "
        f"invalid record: job {invalid.id}: created nan is not a time in "
        "0..253402300799 seconds since the epoch"
    )
    wait_until(
        lambda: any(r.getMessage() == expected for r in caplog.records),
        timeout=10,
        message=lambda: f"the warning {expected!r} in {caplog.text!r}",
    )
    beat = target.runtime.beat
    wait_until(lambda: target.runtime.beat >= beat + 3, timeout=10, message="three beats")
    assert target.state.get(valid.id) is None
    assert target.state.get(invalid.id) is None


BAD_MEMBER_ID = "0badbadbadbadbad"
BAD_MEMBER_ADDRESSES = ["nohost", "", "[::1", "a:b:c:99999"]


def frame_listing_member(address: str) -> bytes:
    """Return a frame, valid in every other field, that lists a member at `address`."""
    body = {
        "v": PROTOCOL_VERSION,
        "t": 1,
        "id": BAD_MEMBER_ID,
        "addr": f"{LOOPBACK}:1",
        "inc": 1,
        "members": [[BAD_MEMBER_ID, address, 1, 1, False]],
        "dig": {},
        "reach": {},
        "more": False,
        "jobs": [],
        "msgs": [],
    }
    return framed(msgpack.packb(body, use_bin_type=True))


def member_ids(node: BaseNode) -> set[str]:
    return {m.node_id for m in node.communication.members()}


def test_member_with_valid_address_joins(honest_pair):
    target, _ = honest_pair

    send_raw(port_of(target), frame_listing_member(f"{LOOPBACK}:1"))

    assert BAD_MEMBER_ID in member_ids(target)


@pytest.mark.parametrize("address", BAD_MEMBER_ADDRESSES)
def test_member_with_bad_address_rejected(honest_pair, caplog, address):
    caplog.set_level(logging.WARNING, logger="ants")
    target, _ = honest_pair

    own_address, _ = send_raw(port_of(target), frame_listing_member(address))

    expected = (
        f"closed connection from {own_address}: frame from {own_address} has an "
        f"invalid member: invalid member {BAD_MEMBER_ID} address {address!r}"
    )
    wait_until(
        lambda: any(r.getMessage().startswith(expected) for r in caplog.records),
        timeout=10,
        message=lambda: f"a warning starting {expected!r} in {caplog.text!r}",
    )
    assert target.communication.rejections["invalid frame"] == 1
    assert BAD_MEMBER_ID not in member_ids(target)


@pytest.mark.parametrize("address", BAD_MEMBER_ADDRESSES)
def test_member_with_bad_address_logs_no_errors(honest_pair, caplog, address):
    caplog.set_level(logging.WARNING)
    target, other = honest_pair

    send_raw(port_of(target), frame_listing_member(address))
    beat = target.runtime.beat
    wait_until(
        lambda: target.runtime.beat >= beat + 10, timeout=10, message="ten more beats"
    )

    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [], errors[0].getMessage() if errors else ""
    # The other node never learns of the member from the target.
    assert BAD_MEMBER_ID not in member_ids(other)


def hello_frame() -> bytes:
    frame = Frame(
        type=MessageType.EXCHANGE,
        node_id="00000000000000c1",
        address=f"{LOOPBACK}:1",
        incarnation=1,
    )
    return encode_frame(frame)


def test_shutdown_with_open_connection_logs_no_error(caplog):
    caplog.set_level(logging.WARNING)
    node = start_node([])
    try:
        with socket.create_connection((LOOPBACK, port_of(node)), timeout=10) as peer:
            peer.sendall(hello_frame())
            (length,) = struct.unpack(">I", peer.recv(4, socket.MSG_WAITALL))
            assert len(peer.recv(length, socket.MSG_WAITALL)) == length
            node.shutdown()
    finally:
        node.shutdown()

    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [], errors[0].getMessage() if errors else ""


def test_node_bootstrapping_itself_has_no_peers():
    port = free_port()
    seeds = [f"localhost:{port}", f"{LOOPBACK}:{port}"]
    communication = SocketCommunication(
        host=LOOPBACK, port=port, pull_interval=0.2, bootstrap_nodes=seeds
    )
    node = EchoNode(NodeConfig.local(), communication)
    node.start()
    try:
        wait_until(
            lambda: communication.seeds == [f"{LOOPBACK}:{port}"],
            timeout=10,
            message="the node to drop the seed that reached itself",
        )
        members = communication.members()
    finally:
        node.shutdown()

    assert [m.node_id for m in members] == [node.node_id]
    assert members[0].is_self


def test_unreachable_bootstrap_warned_until_joined(caplog):
    # Nothing listens on the port until the second node starts there.
    port = free_port()
    seed = f"{LOOPBACK}:{port}"
    node = start_node([seed])
    try:
        expected = f"no peers: bootstrap node {seed} is unreachable"
        wait_until(
            lambda: any(w.startswith(expected) for w in node.snapshot().warnings),
            timeout=10,
            message="the header warning about the bootstrap node",
        )
        logged = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert any(
            text.startswith(f"bootstrap node {seed} is unreachable") for text in logged
        )

        communication = SocketCommunication(host=LOOPBACK, port=port, pull_interval=0.2)
        peer = EchoNode(NodeConfig.local(), communication)
        peer.start()
        try:
            wait_until(
                lambda: not node.snapshot().warnings,
                timeout=10,
                message="the warning to go once the bootstrap node answers",
            )
        finally:
            peer.shutdown()
    finally:
        node.shutdown()


# Options


@pytest.mark.parametrize(
    ("bootstrap", "text"),
    [
        (
            "bad",
            "invalid bootstrap node 'bad': expected host:port, e.g. 127.0.0.1:9000",
        ),
        (
            "host:99999",
            "invalid bootstrap node 'host:99999': port 99999 is outside 1..65535",
        ),
        ("host:abc", "invalid bootstrap node 'host:abc': port 'abc' is not a number"),
        (
            ":9000",
            "invalid bootstrap node ':9000': the host is empty or contains spaces",
        ),
        ("[::1]9000", "invalid bootstrap node '[::1]9000': expected [host]:port"),
    ],
)
def test_socket_bad_bootstrap_raises_config_error(bootstrap, text):
    with pytest.raises(ConfigError) as caught:
        SocketCommunication(bootstrap_nodes=[bootstrap])
    assert str(caught.value) == text


def test_socket_bootstrap_pair_accepted():
    communication = SocketCommunication(
        bootstrap_nodes=[("127.0.0.1", 9000), "[::1]:9001"]
    )
    assert communication.seeds == ["127.0.0.1:9000", "[::1]:9001"]


@pytest.mark.parametrize(
    ("kwargs", "text"),
    [
        ({"port": 70000}, "invalid port 70000: use 0..65535 (0 picks a free port)"),
        ({"port": -1}, "invalid port -1: use 0..65535 (0 picks a free port)"),
        (
            {"pull_interval": 0},
            "pull_interval must be a positive number of seconds, got 0",
        ),
        ({"fanout": 0}, "fanout must be an integer of at least 1, got 0"),
    ],
)
def test_socket_bad_option_raises_config_error(kwargs, text):
    with pytest.raises(ConfigError) as caught:
        SocketCommunication(**kwargs)
    assert str(caught.value) == text
