"""A node under garbage, stalled and oversized connections keeps serving honest peers."""

from __future__ import annotations

import asyncio
import random
import struct

import pytest
from helpers import wait_until

from ants import BaseNode, Job, NodeConfig, SocketCommunication

pytestmark = pytest.mark.slow

ATTACKER = "127.0.0.9"


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


async def send_and_close(host: str, port: int, data: bytes, hold: float = 0.0) -> None:
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port, local_addr=(ATTACKER, 0)), 2
        )
    except OSError:
        return
    try:
        writer.write(data)
        await writer.drain()
        if hold:
            await asyncio.sleep(hold)
    except OSError:
        pass
    finally:
        writer.close()


async def attack(host: str, port: int, seed: int) -> None:
    rng = random.Random(seed)
    too_large = struct.pack(">I", 2**31)
    # Bounded: 2,000 garbage connections, 200 oversized prefixes, 100 stalled writers.
    stalled = [send_and_close(host, port, b"\x00\x00", hold=3.0) for _ in range(100)]
    stalled_tasks = [asyncio.ensure_future(task) for task in stalled]
    for start in range(0, 2000, 100):
        batch = [
            send_and_close(host, port, bytes(rng.getrandbits(8) for _ in range(29)))
            for _ in range(100)
        ]
        await asyncio.gather(*batch)
    await asyncio.gather(*(send_and_close(host, port, too_large) for _ in range(200)))
    await asyncio.gather(*stalled_tasks)


def test_node_survives_hostile_peer():
    honest = []
    for host in ("127.0.0.2", "127.0.0.3"):
        bootstrap = [honest[0].communication.listen_address] if honest else []
        communication = SocketCommunication(
            host=host, port=0, pull_interval=0.1, bootstrap_nodes=bootstrap, seed=3
        )
        node = EchoNode(NodeConfig.local(heartbeat_interval=0.1), communication)
        node.start()
        honest.append(node)
    try:
        target, other = honest
        assert wait_until(lambda: len(target.snapshot().members) == 2, 10)
        before = resident_kib()
        host, port = target.communication.listen_address.rsplit(":", 1)

        target.add_job(Job("before", {"n": 0})).result(timeout=5)
        asyncio.run(attack(host, int(port), seed=5))
        for index in range(1, 51):
            target.add_job(Job("after", {"n": index}))

        assert wait_until(lambda: other.snapshot().count_done() == 51, 20)
        assert wait_until(lambda: target.snapshot().count_done() == 51, 20)
        states = {m.node_id: m.state for m in target.snapshot().members}
        assert states[other.node_id] == "alive"
        rejected = (
            target.communication.rejected_frames + target.communication.rejected_connections
        )
        assert rejected >= 2200
        grown = resident_kib() - before
        assert grown < 64 * 1024, f"resident memory grew by {grown} KiB"
    finally:
        for node in honest:
            node.shutdown()
