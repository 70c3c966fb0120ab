"""The dashboard on a real two-node cluster on 127.0.0.1, driven through Pilot."""

from __future__ import annotations

import logging
import time
from dataclasses import replace

from textual.widgets import TabbedContent

from ants.node.job import JobRecord, JobStatus
from ants.tui.app import make_app
from ants.tui.widgets.job_detail import JobDetailScreen
from ants.tui.widgets.job_table import ROW_LIMIT
from ants.tui.widgets.jobs_panel import STATUSES, JobsPanel, tab_label
from ants.tui.widgets.keys_screen import KeysScreen
from ants.tui.widgets.log_panel import LogPanel
from ants.tui.widgets.node_header import NodeHeader
from ants.tui.widgets.peers_table import PeersTable

SIZE = (120, 40)


def _labels_match(app, node) -> bool:
    snapshot = node.snapshot()
    labels = app.query_one(JobsPanel).tab_labels()
    return all(labels[s] == tab_label(s, snapshot.count(s)) for s in STATUSES)


async def test_two_nodes_peer_jobs_and_quit(node_file, make_node, wait_until):
    node = make_node(node_file)
    app = make_app(node, path=node_file)
    async with app.run_test(size=SIZE) as pilot:
        peer = make_node(node_file, bootstrap=[node.communication.listen_address])
        peer.start()
        peers = app.query_one(PeersTable)

        def peer_row() -> list[str] | None:
            for row in peers.cell_texts():
                if row[0].startswith(peer.node_id[:8]):
                    return row
            return None

        await wait_until(pilot, lambda: peer_row() is not None, "the peer's row")
        await wait_until(pilot, lambda: peer_row()[2] == "alive", "the peer alive")
        assert peer_row()[1] == peer.communication.advertise_address

        await wait_until(
            pilot,
            lambda: node.snapshot().count(JobStatus.DONE) == 10,
            "all 10 jobs done",
        )
        await wait_until(pilot, lambda: _labels_match(app, node), "tab counts")
        snapshot = node.snapshot()
        labels = app.query_one(JobsPanel).tab_labels()
        for status in STATUSES:
            assert labels[status] == tab_label(status, snapshot.count(status))
        assert labels[JobStatus.DONE] == "Done (10)"

        header = app.query_one(NodeHeader).plain_text()
        assert node.node_id in header
        assert "CountingNode" in header
        assert "10 done" in header
        assert "1 alive" in header

        started = time.monotonic()
        await pilot.press("q")
        await wait_until(pilot, lambda: not node.runtime.is_running, "the node to stop")
        await wait_until(pilot, lambda: not app.is_running, "the app to exit", 3.0)
        assert time.monotonic() - started < 2.0
    assert app.return_code == 0
    assert not node.runtime.is_running
    assert app.reloader is not None and not app.reloader._thread.is_alive()


async def test_done_tab_and_job_detail(node_file, make_node, wait_until):
    node = make_node(node_file)
    app = make_app(node, path=node_file, reload=False)
    async with app.run_test(size=SIZE) as pilot:
        jobs = app.query_one(JobsPanel)
        await wait_until(
            pilot, lambda: node.snapshot().count(JobStatus.DONE) == 10, "10 jobs done"
        )
        jobs.show_status(JobStatus.DONE)
        table = jobs.table(JobStatus.DONE)
        await wait_until(pilot, lambda: table.row_count == 10, "10 rows in Done")
        results = table.column_texts("summary")
        assert all('"version":"v1"' in result for result in results)
        assert jobs.border_title == "Jobs · done · problems first"

        table.focus()
        await pilot.press("down")
        selected = table.selected_job_id()
        assert selected is not None
        # More refreshes must not move the cursor off the selected job.
        await pilot.pause(0.6)
        assert table.selected_job_id() == selected

        await pilot.press("enter")
        await wait_until(
            pilot, lambda: isinstance(app.screen, JobDetailScreen), "the detail screen"
        )
        body = app.screen.body_text()
        assert selected in body
        assert "done" in body
        assert "'version': 'v1'" in body
        assert "payload" in body
        await pilot.press("escape")
        await wait_until(
            pilot, lambda: not isinstance(app.screen, JobDetailScreen), "detail closed"
        )


async def test_keys_pause_and_panel_focus(node_file, make_node, wait_until):
    node = make_node(node_file)
    app = make_app(node, path=node_file, reload=False)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.snapshot is not None, "a first snapshot")

        await pilot.press("1")
        assert isinstance(app.focused, PeersTable)
        await pilot.press("4")
        assert app.focused is app.query_one(LogPanel).log_view
        await pilot.press("3")
        assert app.focused is app.query_one(JobsPanel).active_table

        await pilot.press("p")
        header = app.query_one(NodeHeader)
        assert "view paused" in header.plain_text()
        frozen = app.snapshot.version
        await pilot.pause(0.8)
        assert app.snapshot.version == frozen
        await pilot.press("p")
        await wait_until(
            pilot, lambda: app.snapshot.version != frozen, "a new snapshot"
        )
        assert "view paused" not in header.plain_text()

        log_panel = app.query_one(LogPanel)
        log_panel.query_one(TabbedContent).active = "events-pane"
        await wait_until(
            pilot,
            lambda: any(
                "added 1 job(s)" in line.text for line in log_panel.events_view.lines
            ),
            "the node's events in the Events tab",
        )

        await pilot.press("question_mark")
        await wait_until(
            pilot, lambda: isinstance(app.screen, KeysScreen), "keys screen"
        )
        described = dict(app.screen.bindings)
        assert described["q, ctrl+q"] == "Leave the cluster and exit"
        assert described["r"] == "Reload the node file now"
        assert "p" in described
        assert "?" in described
        await pilot.press("escape")


async def test_small_terminal_uses_compact_layout(node_file, make_node, wait_until):
    node = make_node(node_file)
    app = make_app(node, reload=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: app.snapshot is not None, "a first snapshot")
        assert app.screen.has_class("-compact")
        jobs = app.query_one(JobsPanel)
        # The column header and at least two job rows stay visible.
        assert jobs.active_table.size.height >= 3
        assert app.query_one(LogPanel).log_view.size.height >= 2
        await pilot.resize_terminal(120, 40)
        await pilot.pause(0.2)
        assert not app.screen.has_class("-compact")


async def test_jobs_tab_bounded_with_title(node_file, make_node, wait_until):
    node = make_node(node_file)
    app = make_app(node, reload=False)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.snapshot is not None, "a first snapshot")
        await pilot.press("p")
        records = tuple(
            JobRecord(
                id=f"{index:032x}",
                name="bulk",
                payload=index,
                status=JobStatus.DONE,
                owner=node.node_id,
                result={"n": index},
                created=1000.0,
                finished=2000.0 + index,
            )
            for index in range(600)
        )
        counts = {status: 0 for status in JobStatus}
        counts[JobStatus.DONE] = len(records)
        snapshot = replace(
            app.snapshot, jobs=records, counts=counts, jobs_version=0, job_changes=()
        )
        jobs = app.query_one(JobsPanel)
        jobs.show_status(JobStatus.DONE)
        await pilot.pause()

        jobs.apply_snapshot(snapshot)
        await pilot.pause()

        table = jobs.table(JobStatus.DONE)
        assert table.row_count == ROW_LIMIT
        assert jobs.border_title == (
            f"Jobs · done · problems first · showing {ROW_LIMIT} of 600"
        )
        # Tab counts follow within a second, to spare the screen a layout pass.
        await wait_until(
            pilot,
            lambda: jobs.tab_labels()[JobStatus.DONE] == "Done (600)",
            "the done tab's count",
        )
        results = table.column_texts("summary")
        assert results[0] == '{"n":599}'
        assert results[-1] == f'{{"n":{600 - ROW_LIMIT}}}'


async def test_log_lines_keep_width_in_hidden_tab(node_file, make_node, wait_until):
    node = make_node(node_file)
    app = make_app(node, path=node_file, reload=False)
    async with app.run_test(size=SIZE) as pilot:
        panel = app.query_one(LogPanel)
        await wait_until(pilot, lambda: app.snapshot is not None, "a first snapshot")
        panel.query_one("#log-tabs", TabbedContent).active = "events-pane"
        await pilot.pause()

        words = " ".join(f"word{n}" for n in range(30))
        logging.getLogger("mynode").warning(words)
        await wait_until(
            pilot,
            lambda: any(words in line for line in panel.plain_lines),
            "the line in the log",
        )
        panel.query_one("#log-tabs", TabbedContent).active = "log-pane"
        await pilot.pause()

        drawn = [strip.text.rstrip() for strip in panel.log_view.lines]
        first = next(line for line in drawn if "word0 " in line)
        # Wrapped at the panel's width, not at the hidden log's minimum of 20.
        assert len(first) > 60
