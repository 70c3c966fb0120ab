"""A node under garbage, stalled and oversized connections keeps serving honest peers."""

from __future__ import annotations

import asyncio
import random
import struct
import time

import pytest
from helpers import LOOPBACK, wait_until

from ants import BaseNode, Job, NodeConfig, SocketCommunication

pytestmark = pytest.mark.slow

GARBAGE_FRAMES = 2000
OVERSIZED_PREFIXES = 200
INCOMPLETE_FRAMES = 100
SLOW_WRITERS = 50
CONCURRENT = 50
"""Attack connections open at once, besides the slow writers, below the per-host cap."""
READ_TIMEOUT = 1.0
"""The target's io_timeout in seconds, shorter than a slow writer's SLOW_WRITER_HOLD."""
SLOW_WRITER_HOLD = 3.0


def resident_kib() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("VmRSS not found")


class EchoNode(BaseNode):
    def do_jobs(self, my_assigned_jobs):
        for job in my_assigned_jobs:
            job.set_result({"by": self.node_id})


async def send_and_wait_close(port: int, data: bytes) -> bool:
    """Send `data`, then wait for the node to close; return whether it did within 5 s."""
    reader, writer = await asyncio.open_connection(LOOPBACK, port)
    try:
        writer.write(data)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), 5) == b""
    except (OSError, asyncio.TimeoutError):
        return False
    finally:
        writer.close()


async def send_half_and_close(port: int, data: bytes) -> None:
    """Send the first half of `data` and close, leaving the node a frame cut short."""
    reader, writer = await asyncio.open_connection(LOOPBACK, port)
    writer.write(data[: len(data) // 2])
    await writer.drain()
    writer.close()
    await asyncio.wait_for(reader.read(), 5)


async def trickle(port: int) -> float | None:
    """Announce a 100-byte frame and send one byte of it every 0.25 s, never finishing.

    Returns the seconds until the node closed the connection, or None if it
    stayed open for all of SLOW_WRITER_HOLD.
    """
    started = time.monotonic()
    reader, writer = await asyncio.open_connection(LOOPBACK, port)
    try:
        writer.write(struct.pack(">I", 100))
        while time.monotonic() - started < SLOW_WRITER_HOLD:
            writer.write(b"\x00")
            await writer.drain()
            try:
                if await asyncio.wait_for(reader.read(1), 0.25) == b"":
                    return time.monotonic() - started
            except asyncio.TimeoutError:
                pass
    except OSError:
        return time.monotonic() - started
    finally:
        writer.close()
    return None


def garbage_frame(rng: random.Random) -> bytes:
    body = bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 64)))
    return struct.pack(">I", len(body)) + body


async def attack(port: int, seed: int) -> tuple[list[bool], list[float | None]]:
    """Run every kind of hostile connection; return garbage closes and slow-writer times."""
    rng = random.Random(seed)
    slow = [asyncio.ensure_future(trickle(port)) for _ in range(SLOW_WRITERS)]

    closed: list[bool] = []
    for _ in range(0, GARBAGE_FRAMES, CONCURRENT):
        batch = [send_and_wait_close(port, garbage_frame(rng)) for _ in range(CONCURRENT)]
        closed += await asyncio.gather(*batch)

    oversized = struct.pack(">I", 2**31)
    for _ in range(0, OVERSIZED_PREFIXES, CONCURRENT):
        closed += await asyncio.gather(
            *(send_and_wait_close(port, oversized) for _ in range(CONCURRENT))
        )

    for _ in range(0, INCOMPLETE_FRAMES, CONCURRENT):
        await asyncio.gather(
            *(send_half_and_close(port, garbage_frame(rng)) for _ in range(CONCURRENT))
        )
    return closed, list(await asyncio.gather(*slow))


def test_node_survives_hostile_peer():
    # The attacker shares 127.0.0.1 with the honest nodes, and the target's
    # per-host cap leaves room for both, so every attack frame reaches it.
    target = EchoNode(
        NodeConfig.local(heartbeat_interval=0.1),
        SocketCommunication(
            port=0, pull_interval=0.1, seed=3, io_timeout=READ_TIMEOUT,
            max_connections_per_host=256,
        ),
    )
    target.start()
    other = EchoNode(
        NodeConfig.local(heartbeat_interval=0.1),
        SocketCommunication(
            port=0, pull_interval=0.1, seed=4,
            bootstrap_nodes=[target.communication.listen_address],
        ),
    )
    other.start()
    try:
        wait_until(
            lambda: len(target.snapshot().members) == 2,
            timeout=10,
            message="the two nodes to see each other",
        )
        target.add_job(Job("before", {"n": 0})).result(timeout=5)
        other.add_job(Job("before", {"n": -1})).result(timeout=5)
        before = resident_kib()
        port = int(target.communication.listen_address.rsplit(":", 1)[1])

        started = time.monotonic()
        closed, slow_closes = asyncio.run(attack(port, seed=5))
        attack_seconds = time.monotonic() - started
        for index in range(1, 51):
            target.add_job(Job("after", {"n": index}))

        wait_until(
            lambda: other.snapshot().count_done() == 52,
            timeout=20,
            message=lambda: f"52 jobs done on the other node, got {other.snapshot().count_done()}",
        )
        wait_until(
            lambda: target.snapshot().count_done() == 52,
            timeout=20,
            message=lambda: f"52 jobs done on the target, got {target.snapshot().count_done()}",
        )
        states = {m.node_id: m.state for m in target.snapshot().members}
        grown = resident_kib() - before
        rejections = target.communication.rejections
    finally:
        other.shutdown()
        target.shutdown()

    assert attack_seconds < 20
    assert states[other.node_id] == "alive"
    assert closed.count(True) == GARBAGE_FRAMES + OVERSIZED_PREFIXES
    assert rejections["invalid frame"] == GARBAGE_FRAMES
    assert rejections["frame size"] == OVERSIZED_PREFIXES
    assert rejections["incomplete frame"] == INCOMPLETE_FRAMES
    assert rejections["read timeout"] == SLOW_WRITERS
    assert rejections["connection limit"] == 0
    assert target.communication.rejected_connections == 0
    assert None not in slow_closes, "a slow writer was never closed"
    assert min(slow_closes) >= READ_TIMEOUT
    assert max(slow_closes) < SLOW_WRITER_HOLD
    assert grown < 64 * 1024, f"resident memory grew by {grown} KiB"
