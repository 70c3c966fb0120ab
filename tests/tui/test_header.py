"""The node header on the fake node: its text and when it requests a layout pass."""

from __future__ import annotations

import asyncio
import base64
import logging
import socket
from dataclasses import replace

from ants.comm.crypto import Keyring
from ants.comm.socket import SocketCommunication
from ants.node.config import NodeConfig
from ants.node.loader import load_node_class
from ants.tui.app import make_app
from ants.tui.widgets.node_header import NodeHeader

from .conftest import INTERVAL
from .fakes import SELF_ID, build_fixed_app, fixed_snapshot

KEY = base64.b64encode(bytes([3]) * 32).decode()


async def test_header_layout_only_when_height_changes():
    app = build_fixed_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        header = app.query_one(NodeHeader)
        layouts: list[bool] = []
        refresh = header.refresh

        def record_refresh(*regions, layout=False, **options):
            layouts.append(layout)
            return refresh(*regions, layout=layout, **options)

        header.refresh = record_refresh
        snapshot = fixed_snapshot()
        header.apply_snapshot(replace(snapshot, version=2, beat=snapshot.beat + 1))
        header.apply_snapshot(replace(snapshot, version=3, warnings=("disk full",)))
        header.apply_snapshot(replace(snapshot, version=4, warnings=("disk full",)))

        assert layouts == [False, True, False]
        text = header.plain_text()
        assert SELF_ID in text
        assert "warning: disk full" in text


def send_plain_frame(address: str) -> None:
    """Open a connection and send a frame without sealing it, as a node without the key does."""
    host, port = address.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as connection:
        connection.sendall(b"\x00\x00\x00\x01\xc0")
        while connection.recv(65536):
            pass


async def test_header_shows_failed_authentication(node_file, wait_until):
    communication = SocketCommunication(
        port=0, pull_interval=INTERVAL, keyring=Keyring.from_env(KEY)
    )
    node = load_node_class(node_file)(NodeConfig.local(), communication)
    app = make_app(node, path=node_file, reload=False)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_until(pilot, lambda: node.runtime.started_at, "the node to start")
            for _ in range(2):
                await asyncio.to_thread(send_plain_frame, communication.listen_address)

            expected = "warning: 2 frames failed authentication from 127.0.0.1"
            header = app.query_one(NodeHeader)
            await wait_until(
                pilot, lambda: expected in header.plain_text(), f"{expected!r} in the header"
            )
            assert node.snapshot().warnings == (
                "2 frames failed authentication from 127.0.0.1",
            )
    finally:
        node.shutdown(timeout=1.0)


async def test_header_warns_all_interfaces_without_key(
    node_file, wait_until, monkeypatch, caplog
):
    # The node is configured to listen on 0.0.0.0, and the listener is moved to
    # 127.0.0.1 so that the test opens no port on other interfaces.
    start_server = asyncio.start_server

    def start_on_loopback(callback, host, port, **options):
        assert host == "0.0.0.0"
        return start_server(callback, "127.0.0.1", port, **options)

    monkeypatch.setattr("ants.comm.socket.asyncio.start_server", start_on_loopback)
    caplog.set_level(logging.WARNING, logger="ants.comm.socket")
    communication = SocketCommunication(
        host="0.0.0.0", port=0, pull_interval=INTERVAL, advertise="127.0.0.1:1"
    )
    node = load_node_class(node_file)(NodeConfig.local(), communication)
    app = make_app(node, path=node_file, reload=False)
    try:
        async with app.run_test(size=(160, 40)) as pilot:
            await wait_until(pilot, lambda: node.runtime.started_at, "the node to start")
            listen = communication.listen_address
            expected = (
                f"listening on {listen} without a cluster key: anyone who can reach "
                "this port can join the cluster"
            )
            header = app.query_one(NodeHeader)
            await wait_until(
                pilot,
                lambda: f"warning: {expected}" in header.plain_text(),
                "the warning in the header",
            )
            assert node.snapshot().warnings == (expected,)
            assert expected in [r.getMessage() for r in caplog.records]
            assert listen.startswith("0.0.0.0:")
    finally:
        node.shutdown(timeout=1.0)
