"""Keys of the jobs panel and the view pause, pressed through Pilot on a real node:
`[` and `]` switch tabs, `A` and `P` toggle statuses in All, `p` freezes the view."""

from __future__ import annotations

from collections import Counter

from ants.node.base import BaseNode
from ants.node.job import JobStatus
from ants.tui.app import make_app
from ants.tui.widgets.job_filter_bar import JobFilterBar
from ants.tui.widgets.job_table import ROW_LIMIT
from ants.tui.widgets.jobs_panel import ALL_PANE, pane_id
from ants.tui.widgets.node_header import NodeHeader
from tui.bulk_jobs import idle_node, jobs_ready

SIZE = (140, 44)
RECORDS = 150
"""Bulk records per test, under ROW_LIMIT so that every row is shown."""


def _status_counts(node: BaseNode, statuses: set[JobStatus]) -> Counter[str]:
    """Count the node's records of `statuses`, by the status name a row shows."""
    return Counter(
        record.status.name.lower()
        for record in node.snapshot().jobs
        if record.status in statuses
    )


async def test_brackets_switch_jobs_tabs(node_file, make_node, wait_until):
    assert RECORDS < ROW_LIMIT
    node = idle_node(make_node, node_file, RECORDS)[0]
    app = make_app(node, reload=False)
    async with app.run_test(size=SIZE) as pilot:
        jobs = await jobs_ready(pilot, app, wait_until)
        assert jobs.tabs.active == ALL_PANE

        steps = [
            ("right_square_bracket", JobStatus.PENDING),
            ("right_square_bracket", JobStatus.ASSIGNED),
            ("right_square_bracket", JobStatus.DONE),
            ("left_square_bracket", JobStatus.ASSIGNED),
            ("left_square_bracket", JobStatus.PENDING),
            ("left_square_bracket", None),
            # Both ends wrap around: before All comes Failed, after Failed All.
            ("left_square_bracket", JobStatus.FAILED),
            ("right_square_bracket", None),
        ]
        for key, status in steps:
            await pilot.press(key)
            expected_pane = ALL_PANE if status is None else pane_id(status)
            assert jobs.tabs.active == expected_pane, (key, status)
            table = jobs.active_table
            assert table.status is status
            assert table.has_focus
            if status is None:
                continue
            expected = _status_counts(node, {status})
            assert Counter(table.column_texts("status")) == expected
            assert table.total == node.snapshot().count(status)
            assert table.total > 0


async def test_status_keys_toggle_all_tab(node_file, make_node, wait_until):
    node = idle_node(make_node, node_file, RECORDS)[0]
    app = make_app(node, reload=False)
    async with app.run_test(size=SIZE) as pilot:
        jobs = await jobs_ready(pilot, app, wait_until)
        table = jobs.active_table
        assert table.status is None
        bar = app.query_one(JobFilterBar)
        all_statuses = {
            JobStatus.PENDING,
            JobStatus.ASSIGNED,
            JobStatus.DONE,
            JobStatus.FAILED,
        }
        assert jobs.shown_statuses == all_statuses

        steps = [
            ("A", all_statuses - {JobStatus.ASSIGNED}),
            ("P", all_statuses - {JobStatus.ASSIGNED, JobStatus.PENDING}),
            ("A", all_statuses - {JobStatus.PENDING}),
            ("P", all_statuses),
        ]
        for key, shown_statuses in steps:
            await pilot.press(key)
            assert jobs.shown_statuses == shown_statuses, key
            expected = _status_counts(node, shown_statuses)
            assert table.total == sum(expected.values())
            assert Counter(table.column_texts("status")) == expected
            assert jobs.all_tab_label() == f"All ({sum(expected.values())})"
            for status in (JobStatus.ASSIGNED, JobStatus.PENDING):
                mark = "x" if status in shown_statuses else " "
                toggle = bar.query_one(f"#toggle-{status.name.lower()}")
                assert f"[{mark}] {status.name.lower()}" in str(toggle.render())
        assert _status_counts(node, {JobStatus.ASSIGNED})["assigned"] > 0
        assert _status_counts(node, {JobStatus.PENDING})["pending"] > 0


async def test_view_pause_while_node_beats(node_file, make_node, wait_until):
    node = make_node(node_file)
    app = make_app(node, reload=False)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.snapshot is not None, "a first snapshot")
        header = app.query_one(NodeHeader)

        await pilot.press("p")
        assert app.view_paused
        assert "view paused" in header.plain_text()
        frozen = app.snapshot
        frozen_header = header.plain_text()
        paused_at = node.runtime.beat
        await wait_until(
            pilot, lambda: node.runtime.beat >= paused_at + 5, "five more beats"
        )
        assert node.snapshot().version > frozen.version
        assert node.snapshot().beat > frozen.beat
        assert app.snapshot is frozen
        assert header.plain_text() == frozen_header
        assert not node.runtime.paused

        await pilot.press("p")
        assert not app.view_paused
        await wait_until(
            pilot,
            lambda: app.snapshot.version > frozen.version,
            "a newer snapshot shown",
        )
        assert app.snapshot.beat >= paused_at + 5
        assert "view paused" not in header.plain_text()
        assert f"beat {app.snapshot.beat}" in header.plain_text()
