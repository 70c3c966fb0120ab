"""A node joining a loaded peer over TCP takes the backlog in streamed frames."""

from __future__ import annotations

import socket
import threading

import pytest
from helpers import LOOPBACK, free_port, wait_until

from ants import BaseNode, Job, NodeConfig, SocketCommunication

pytestmark = pytest.mark.slow

RECORDS = 20_000
FRAME_CAP = 500


class LoadedNode(BaseNode):
    """Creates RECORDS jobs on its first beat and claims none of them."""

    def add_jobs(self):
        if getattr(self, "_loaded", False):
            return []
        self._loaded = True
        return [Job("load", {"i": index}) for index in range(RECORDS)]

    def assign_to_jobs(self, pending_jobs):
        return []


class IdleNode(BaseNode):
    def assign_to_jobs(self, pending_jobs):
        return []


class SilentPeer:
    """A listening socket that accepts connections and never sends a byte."""

    def __init__(self) -> None:
        self.server = socket.create_server((LOOPBACK, 0))
        self.address = f"{LOOPBACK}:{self.server.getsockname()[1]}"
        self.connections: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.server.accept()
            except OSError:
                return
            self.connections.append(connection)

    def close(self) -> None:
        self.server.close()
        for connection in self.connections:
            connection.close()


def record_frames(node: BaseNode, counts: list[int]) -> None:
    """Append the number of records of every frame `node` builds to `counts`."""
    engine = node.communication.engine
    make_frame = engine.make_frame

    def counting_make_frame(*args, **kwargs):
        frame = make_frame(*args, **kwargs)
        counts.append(frame.record_count)
        return frame

    engine.make_frame = counting_make_frame


def start_node(node_class, pull_interval, bootstrap, port=0, io_timeout=5.0):
    communication = SocketCommunication(
        port=port, pull_interval=pull_interval, bootstrap_nodes=bootstrap,
        fanout=2, io_timeout=io_timeout, seed=1,
    )
    node = node_class(NodeConfig.local(heartbeat_interval=0.1), communication)
    node.start()
    communication.engine.max_records = FRAME_CAP
    return node


def start_loaded(pull_interval: float, bootstrap: list[str] | None = None) -> BaseNode:
    node = start_node(LoadedNode, pull_interval, bootstrap or [])
    wait_until(lambda: len(node.runtime.state) == RECORDS, 30, message="the load")
    return node


def exchanges_with_records(node: BaseNode) -> list:
    return [event for event in node.communication.traffic() if event.records_in]


def test_join_streams_backlog_in_few_exchanges():
    source = start_loaded(pull_interval=1.0)
    joiner = None
    frames: list[int] = []
    try:
        record_frames(source, frames)
        joiner = start_node(IdleNode, 1.0, [source.communication.listen_address])
        wait_until(
            lambda: len(joiner.runtime.state) == RECORDS, 60,
            message=lambda: f"the joiner to hold {RECORDS} jobs "
                            f"({len(joiner.runtime.state)} now)",
        )
        carrying = exchanges_with_records(joiner)
        # 40 frames of records; one round of exchanges, not one per frame.
        assert len(carrying) <= 3, f"{len(carrying)} exchanges carried records: {carrying}"
        received = sum(event.records_in for event in carrying)
        assert received <= 2 * RECORDS, f"{received} records received: {carrying}"
        assert max(frames) == FRAME_CAP
        assert sum(1 for count in frames if count) >= RECORDS // FRAME_CAP
    finally:
        for node in (joiner, source):
            if node is not None:
                node.shutdown()


def test_sync_behind_falls_to_zero():
    source = start_loaded(pull_interval=0.5)
    joiner = None
    try:
        # 100 records a frame and 64 frames an exchange: the join takes rounds.
        source.communication.engine.max_records = 100
        joiner = start_node(IdleNode, 0.5, [source.communication.listen_address])
        joiner.communication.engine.max_records = 100
        behind = wait_until(lambda: joiner.snapshot().sync_behind, 30, 0.01,
                            message="the joiner to report records behind")
        assert 0 < behind <= RECORDS
        assert joiner.snapshot().syncing
        wait_until(lambda: len(joiner.runtime.state) == RECORDS, 60, message="the join")
        snapshot = wait_until(
            lambda: (s := joiner.snapshot()).sync_behind == 0 and s, 10,
            message="sync_behind to reach 0",
        )
        assert not snapshot.syncing
        assert source.snapshot().sync_behind == 0
    finally:
        for node in (joiner, source):
            if node is not None:
                node.shutdown()


def test_silent_peer_does_not_hold_up_join():
    silent = SilentPeer()
    joiner_port = free_port()
    joiner_address = f"{LOOPBACK}:{joiner_port}"
    source = start_loaded(pull_interval=0.5, bootstrap=[joiner_address])
    joiner = None
    try:
        # The joiner's first round goes to the silent peer, its only seed, and
        # that exchange waits out the 30 s read timeout.
        joiner = start_node(IdleNode, 0.5, [silent.address], port=joiner_port,
                            io_timeout=30.0)
        wait_until(lambda: silent.connections, 10, message="a connection to the silent peer")
        wait_until(lambda: len(joiner.runtime.state) == RECORDS, 25, message="the join")
        finished_with_silent = [
            event for event in joiner.communication.traffic()
            if event.peer == silent.address
        ]
        assert finished_with_silent == []
        assert silent.address in joiner.communication._in_flight
    finally:
        for node in (joiner, source):
            if node is not None:
                node.shutdown()
        silent.close()
