"""The job table on its own: cells that change in place keep fitting their column."""

from __future__ import annotations

from textual.app import App, ComposeResult

from ants.node.job import Job, JobStatus
from ants.tui.widgets.job_table import JobTable


class TableApp(App):
    def compose(self) -> ComposeResult:
        yield JobTable(None, id="table")


async def test_changed_cell_widens_its_column():
    record = Job("grow", {"n": 1}).record
    app = TableApp()
    async with app.run_test(size=(120, 20)) as pilot:
        table = app.query_one(JobTable)
        table.show([((0,), record)], 1, "a" * 16, now=record.created)
        await pilot.pause()
        owner = "b" * 16
        table.show(
            [((0,), record.with_changes(status=JobStatus.ASSIGNED, owner=owner))],
            1,
            "a" * 16,
            now=record.created,
        )
        await pilot.pause()

        status = table.columns["status"]
        assert status.content_width >= len("assigned")
