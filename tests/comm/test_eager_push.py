"""Pushes started by a change, rather than by the round timer, on real sockets."""

from __future__ import annotations

from helpers import LOOPBACK, wait_until

from ants import BaseNode, Job, NodeConfig, SocketCommunication

ROUND_SECONDS = 60.0
"""Round timer of the test nodes: long, so every exchange after the first is a push."""


class WatchingNode(BaseNode):
    """Claims nothing, so only the node that adds a job changes the state."""

    def assign_to_jobs(self, pending_jobs: list[Job]) -> list[Job]:
        return []


def start_node(bootstrap: list[str]) -> WatchingNode:
    communication = SocketCommunication(
        host=LOOPBACK,
        port=0,
        pull_interval=ROUND_SECONDS,
        bootstrap_nodes=bootstrap,
        seed=11,
    )
    node = WatchingNode(NodeConfig.local(), communication)
    node.start()
    return node


def exchanges_from(node: BaseNode, peer_id: str) -> int:
    return sum(
        1
        for event in node.communication.traffic()
        if event.direction == "in" and event.peer_id == peer_id
    )


def test_push_not_echoed_to_sender():
    first = start_node([])
    second = start_node([first.communication.listen_address])
    try:
        # The join's exchange is recorded once its connection closes, which
        # can be after the first node already lists the second as a member.
        wait_until(
            lambda: exchanges_from(first, second.node_id) >= 1,
            timeout=10,
            message="the join exchange recorded on the first node",
        )
        echoes_before = exchanges_from(first, second.node_id)
        pushes_before = exchanges_from(second, first.node_id)

        job = Job("watched", {"n": 1})
        first.add_job(job).result(timeout=10)
        wait_until(
            lambda: second.state.get(job.id) is not None,
            timeout=10,
            message="the job to reach the second node",
        )
        beat = second.runtime.beat
        wait_until(
            lambda: second.runtime.beat >= beat + 3,
            timeout=10,
            message="three beats of the second node after the merge",
        )

        assert exchanges_from(second, first.node_id) > pushes_before
        # The second node took the job from the first, whose digest already
        # covers it, so pushing it back would carry nothing.
        assert exchanges_from(first, second.node_id) == echoes_before
    finally:
        second.shutdown()
        first.shutdown()
