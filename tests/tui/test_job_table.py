"""The job table on its own: columns that fit, the cursor, selection and drawing."""

from __future__ import annotations

from textual.app import App, ComposeResult

from ants.node.job import Job, JobRecord, JobStatus
from ants.tui.widgets.job_table import JobTable

SELF_ID = "a" * 16


class TableApp(App):
    def __init__(self) -> None:
        super().__init__()
        self.chosen: list[str] = []

    def compose(self) -> ComposeResult:
        yield JobTable(None, id="table")

    def on_job_table_row_selected(self, message: JobTable.RowSelected) -> None:
        self.chosen.append(message.job_id)


def records(count: int, name: str = "job") -> list[JobRecord]:
    return [Job(name, {"n": n}).record for n in range(count)]


def show(table: JobTable, shown: list[JobRecord], now: float) -> None:
    table.show(
        [((n,), record) for n, record in enumerate(shown)], len(shown), SELF_ID, now=now
    )


async def show_rows(pilot, shown: list[JobRecord]) -> JobTable:
    """Show `shown` in the app's table, as of their first creation time, and draw it."""
    table = pilot.app.query_one(JobTable)
    show(table, shown, shown[0].created)
    await pilot.pause()
    return table


def screen_lines(table: JobTable) -> list[str]:
    return [table.render_line(y).text for y in range(table.size.height)]


async def test_changed_cell_widens_its_column():
    record = Job("grow", {"n": 1}).record
    app = TableApp()
    async with app.run_test(size=(120, 20)) as pilot:
        table = app.query_one(JobTable)
        show(table, [record], record.created)
        await pilot.pause()
        assert table.column_width("status") == len("pending")
        owner = "b" * 16
        show(
            table,
            [record.with_changes(status=JobStatus.ASSIGNED, owner=owner)],
            record.created,
        )
        await pilot.pause()

        assert table.column_width("status") == len("assigned")
        assert "assigned" in screen_lines(table)[1]


async def test_lines_show_header_then_rows():
    shown = records(3)
    app = TableApp()
    async with app.run_test(size=(160, 10)) as pilot:
        table = await show_rows(pilot, shown)

        lines = screen_lines(table)
        assert lines[0].split()[:3] == ["id", "status", "name"]
        for line, record in zip(lines[1:4], shown):
            assert line.split()[:3] == [record.id[:12], "pending", "job"]
        assert lines[4].strip() == ""
        assert table.cell_texts()[0][:3] == [shown[0].id[:12], "pending", "job"]


async def test_cursor_keys_move_and_enter_selects():
    shown = records(30)
    app = TableApp()
    async with app.run_test(size=(120, 12)) as pilot:
        table = await show_rows(pilot, shown)
        table.focus()

        await pilot.press("down", "down")
        assert table.selected_job_id() == shown[2].id
        await pilot.press("end")
        assert table.cursor_row == 29
        # The last row is on screen: the table scrolled to it.
        assert shown[29].id[:12] in "".join(screen_lines(table))
        await pilot.press("home", "pagedown")
        assert table.cursor_row == table.size.height - 1
        await pilot.press("up", "enter")
        await pilot.pause()
        assert app.chosen == [shown[table.cursor_row].id]


async def test_cursor_follows_its_job():
    shown = records(10)
    app = TableApp()
    async with app.run_test(size=(120, 20)) as pilot:
        table = await show_rows(pilot, shown)
        table.move_cursor(4)

        show(table, [*records(3, "new"), *shown], shown[0].created)
        await pilot.pause()
        assert table.cursor_row == 7
        assert table.selected_job_id() == shown[4].id

        # When its job leaves, the cursor keeps its place in the list.
        show(table, shown[:2], shown[0].created)
        assert table.cursor_row == 1
        show(table, [], shown[0].created)
        assert table.selected_job_id() is None


async def test_click_selects_row():
    shown = records(5)
    app = TableApp()
    async with app.run_test(size=(120, 12)) as pilot:
        table = await show_rows(pilot, shown)

        await pilot.click(JobTable, offset=(2, 3))
        assert table.selected_job_id() == shown[2].id
        assert app.chosen == [shown[2].id]
        # The header row selects nothing.
        await pilot.click(JobTable, offset=(2, 0))
        assert app.chosen == [shown[2].id]


async def test_reordered_rows_reuse_lines():
    shown = records(5)
    app = TableApp()
    async with app.run_test(size=(120, 12)) as pilot:
        table = await show_rows(pilot, shown)
        lines = [table._rows[record.id].line for record in shown]

        show(table, shown, shown[0].created)
        show(table, list(reversed(shown)), shown[0].created)
        await pilot.pause()
        # Reordered rows reuse the lines drawn before.
        assert [table._rows[record.id].line for record in shown] == lines
        assert table.cell_texts()[0][0] == shown[-1].id[:12]


async def test_name_line_breaks_become_spaces():
    record = Job("two\nlines\tand a tab", {}).record
    app = TableApp()
    async with app.run_test(size=(120, 8)) as pilot:
        table = app.query_one(JobTable)
        show(table, [record], record.created)
        await pilot.pause()
        assert table.column_texts("name") == ["two lines and a tab"]
