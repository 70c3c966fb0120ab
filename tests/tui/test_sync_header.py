"""The header shows a node's sync progress while it is behind its peers."""

from __future__ import annotations

from textual.app import App, ComposeResult

from ants.node.job import JobStatus
from ants.node.snapshot import NodeSnapshot
from ants.tui.widgets.node_header import NodeHeader


def make_snapshot(job_count: int, behind: int) -> NodeSnapshot:
    return NodeSnapshot(
        version=1, node_id="0123456789abcdef", node_class="SyncNode",
        listen="127.0.0.1:9000", advertise="127.0.0.1:9000", beat=3, uptime=1.0,
        paused=False, observe=False, jobs=(),
        counts={status: 0 for status in JobStatus} | {JobStatus.PENDING: job_count},
        members=(), traffic=(), rates=(), events=(), sync_behind=behind,
    )


class HeaderApp(App):
    def compose(self) -> ComposeResult:
        yield NodeHeader()


async def test_header_shows_sync_progress():
    app = HeaderApp()
    async with app.run_test(size=(140, 10)) as pilot:
        header = app.query_one(NodeHeader)
        header.apply_snapshot(make_snapshot(job_count=40_000, behind=60_000))
        await pilot.pause()
        assert "syncing: 40,000 jobs, up to 60,000 records to go" in header.plain_text()

        header.apply_snapshot(make_snapshot(job_count=100_000, behind=0))
        await pilot.pause()
        assert "syncing" not in header.plain_text()
        assert "100000 pending" in header.plain_text()
