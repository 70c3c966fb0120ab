"""A crashed member is forgotten after forget_after, and stale gossip does not bring it back."""

from __future__ import annotations

import time

from helpers import wait_until

from ants import BaseNode, MemoryCommunication, MemoryNetwork, NodeConfig

FORGET_AFTER = 2.0


class IdleNode(BaseNode):
    pass


def victim_state(node: BaseNode, victim_id: str) -> str | None:
    for member in node.communication.members():
        if member.node_id == victim_id:
            return member.state
    return None


def test_crashed_member_forgotten_for_good():
    network = MemoryNetwork(seed=3)
    config = NodeConfig.local(suspect_after=0.5, dead_after=1.0, forget_after=FORGET_AFTER)
    nodes = [
        IdleNode(config, MemoryCommunication(network, address, bootstrap=["a"]))
        for address in "abcd"
    ]
    for node in nodes:
        node.start()
    survivors, victim = nodes[:3], nodes[3]
    try:
        assert wait_until(lambda: all(
            victim_state(node, victim.node_id) == "alive" for node in survivors
        ), 10), "the survivors never saw the victim alive"
        victim.communication.crash()
        victim.runtime.shutdown()

        seen: dict[str, list[str | None]] = {node.node_id: ["alive"] for node in survivors}

        def observe() -> bool:
            for node in survivors:
                state = victim_state(node, victim.node_id)
                if seen[node.node_id][-1] != state:
                    seen[node.node_id].append(state)
            return all(states[-1] is None for states in seen.values())

        assert wait_until(observe, 3 * FORGET_AFTER + 5, interval=0.02), (
            f"the victim was not forgotten everywhere: {seen}"
        )
        # Survivors forget at slightly different times, so the first to forget
        # still receives the stale entry from the others for a while.
        watch_until = time.monotonic() + 1.5 * FORGET_AFTER
        while time.monotonic() < watch_until:
            observe()
            time.sleep(0.02)

        for node in survivors:
            states = seen[node.node_id]
            # A late copy of the last heartbeat may turn suspect back to alive
            # once, but after dead nothing but forgetting may follow.
            assert states[-2:] == ["dead", None], f"victim on {node.node_id}: {states}"
            assert states.count(None) == 1, f"victim on {node.node_id}: {states}"
            assert states.count("dead") == 1, f"victim on {node.node_id}: {states}"
    finally:
        for node in survivors:
            node.shutdown()
