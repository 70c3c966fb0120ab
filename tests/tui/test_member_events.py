"""Member events in the node's ring buffer and in the dashboard's Events tab,
on a real two-node cluster on 127.0.0.1."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from textual.widgets import TabbedContent

from ants.node.base import BaseNode
from ants.node.job import JobStatus
from ants.tui.app import make_app
from ants.tui.widgets.log_panel import LogPanel

SIZE = (120, 40)


def _wait_for(
    condition: Callable[[], object], description: str, timeout: float = 15.0
) -> None:
    """Poll `condition` until it is true, and fail naming `description` once
    `timeout` seconds pass first."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {description}")
        time.sleep(0.05)


def _member_texts(node: BaseNode) -> list[str]:
    return [event.text for event in node.snapshot().events if event.kind == "member"]


def _joined(peer: BaseNode) -> str:
    return f"{peer.node_id} at {peer.communication.advertise_address} joined as alive"


def _left(peer: BaseNode) -> str:
    return f"{peer.node_id} is now left (was alive)"


def _start_pair(make_node, node_file) -> tuple[BaseNode, BaseNode]:
    """Start a node and a peer that joins it, and return both once each has the
    other's join event."""
    node = make_node(node_file)
    node.start()
    peer = make_node(node_file, bootstrap=[node.communication.listen_address])
    peer.start()
    _wait_for(lambda: _joined(peer) in _member_texts(node), "the peer's join event")
    _wait_for(lambda: _joined(node) in _member_texts(peer), "the node's join event")
    return node, peer


def test_peer_join_and_leave_recorded(node_file, make_node):
    node, peer = _start_pair(make_node, node_file)

    peer.shutdown(timeout=1.0)
    _wait_for(lambda: _left(peer) in _member_texts(node), "the peer's left event")

    texts = _member_texts(node)
    assert texts.index(_joined(peer)) < texts.index(_left(peer))
    assert all(peer.node_id in text for text in texts)
    events = [e for e in node.snapshot().events if e.kind == "member"]
    assert all(event.job_id is None for event in events)
    assert [e.time for e in events] == sorted(e.time for e in events)


async def test_events_tab_shows_earlier_events(node_file, make_node, wait_until):
    node, peer = _start_pair(make_node, node_file)
    _wait_for(lambda: node.snapshot().count(JobStatus.DONE) == 10, "all 10 jobs done")
    peer.shutdown(timeout=1.0)
    _wait_for(lambda: _left(peer) in _member_texts(node), "the peer's left event")
    attached = time.time()
    earlier = [
        event.text
        for event in node.snapshot().events
        if event.kind == "member" or event.text == "added 1 job(s) from add_jobs"
    ]
    assert _joined(peer) in earlier
    assert _left(peer) in earlier

    app = make_app(node, reload=False)
    async with app.run_test(size=SIZE) as pilot:
        log_panel = app.query_one(LogPanel)
        log_panel.query_one(TabbedContent).active = "events-pane"

        def shown() -> str:
            return "\n".join(line.text for line in log_panel.events_view.lines)

        await wait_until(pilot, lambda: _left(peer) in shown(), "the left event shown")
        assert f"member  {_joined(peer)}" in shown()
        assert f"member  {_left(peer)}" in shown()
        assert "job     added 1 job(s) from add_jobs" in shown()
        for text in earlier:
            assert text in shown(), text
    assert all(
        event.time < attached
        for event in node.snapshot().events
        if event.text in (_joined(peer), _left(peer))
    )
