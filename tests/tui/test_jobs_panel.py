"""The jobs panel on a real node, driven through Pilot: filter, sort, peer
filter, export, screenshot, selection and the job history."""

from __future__ import annotations

import csv
import json

from ants.node.job import JobStatus
from ants.tui.app import make_app
from ants.tui.export import FIELDS
from ants.tui.job_index import SortOrder, record_time
from ants.tui.widgets.export_screen import ExportScreen
from ants.tui.widgets.job_detail import JobDetailScreen
from ants.tui.widgets.job_filter_bar import JobFilterBar, OwnerChip
from ants.tui.widgets.job_table import ROW_LIMIT, SHORT_ID, JobTable
from ants.tui.widgets.jobs_panel import JobsPanel
from ants.tui.widgets.peers_table import PeersTable
from tui.bulk_jobs import bulk_records, idle_node, jobs_ready, load_records

SIZE = (140, 44)


def _churning_node(node_file, node_source, make_node, bulk: int):
    """Return a node that makes and runs 40 jobs, one per beat, and that
    contains the done jobs among `bulk` bulk records."""
    node_file.write_text(node_source(jobs=40))
    node = make_node(node_file)
    load_records(node, [r for r in bulk_records(bulk) if r.status is JobStatus.DONE])
    return node


async def _newest_first(pilot, app, wait_until) -> tuple[JobsPanel, JobTable]:
    """Wait for job rows, then focus the table and sort newest first."""
    jobs = await jobs_ready(pilot, app, wait_until)
    table = jobs.active_table
    table.focus()
    await pilot.press("s")
    return jobs, table


async def test_filter_text_and_status_toggles(node_file, make_node, wait_until):
    node, records = idle_node(make_node, node_file, 400)
    app = make_app(node, reload=False)
    async with app.run_test(size=SIZE) as pilot:
        jobs = await jobs_ready(pilot, app, wait_until)
        bar = app.query_one(JobFilterBar)
        table = jobs.active_table
        assert table.status is None
        assert not bar.has_class("-open")

        await pilot.press("slash")
        assert bar.has_class("-open")
        assert bar.input.has_focus
        await pilot.press(*"BULK", "minus", "7")
        named = [r for r in records if r.name == "bulk-7"]
        await wait_until(pilot, lambda: table.total == len(named), "the filtered view")
        assert set(table.column_texts("name")) == {"bulk-7"}
        assert jobs.all_tab_label() == f"All ({len(named)})"
        done = sum(1 for r in named if r.status is JobStatus.DONE)
        assert jobs.tab_labels()[JobStatus.DONE] == (
            f"Done ({done}/{sum(1 for r in records if r.status is JobStatus.DONE)})"
        )

        # Enter keeps the filter and goes back to the table, where D and F
        # turn done and failed jobs off in the All tab.
        await pilot.press("enter")
        assert table.has_focus
        await pilot.press("D", "F")
        unfinished = [r for r in named if not r.status.is_terminal]
        assert table.total == len(unfinished)
        assert set(table.column_texts("status")) <= {"pending", "assigned"}
        assert "[ ] done" in str(bar.query_one("#toggle-done").render())
        assert "[x] pending" in str(bar.query_one("#toggle-pending").render())

        # A click turns a status back on.
        await pilot.click("#toggle-failed")
        failed = [r for r in named if r.status is JobStatus.FAILED]
        assert table.total == len(unfinished) + len(failed)

        # The Done tab ignores the toggles but keeps the text filter.
        jobs.show_status(JobStatus.DONE)
        await pilot.pause()
        assert jobs.active_table.total == done

        jobs.show_status(None)
        jobs.focus_table()
        await pilot.pause()
        await pilot.press("escape")
        assert not bar.has_class("-open")
        assert bar.input.value == ""
        assert table.total == len(records)
        assert jobs.all_tab_label() == f"All ({len(records)})"


async def test_filter_applies_to_new_jobs(node_file, make_node, wait_until):
    node = make_node(node_file)
    app = make_app(node, reload=False)
    async with app.run_test(size=SIZE) as pilot:
        jobs = await jobs_ready(pilot, app, wait_until)
        jobs.set_filter_text('"n":9')
        table = jobs.active_table
        await wait_until(
            pilot, lambda: node.snapshot().count(JobStatus.DONE) == 10, "10 jobs done"
        )
        await wait_until(
            pilot,
            lambda: table.column_texts("status") == ["done"],
            "the 10th job done in the view",
        )
        assert table.total == 1
        assert table.column_texts("name") == ["count"]


async def test_sort_switch_changes_order(node_file, make_node, wait_until):
    node, records = idle_node(make_node, node_file, 300)
    app = make_app(node, reload=False)
    async with app.run_test(size=SIZE) as pilot:
        jobs = await jobs_ready(pilot, app, wait_until)
        table = jobs.active_table
        assert jobs.order is SortOrder.PROBLEMS
        assert jobs.border_title.startswith("Jobs · all · problems first")

        statuses = table.column_texts("status")
        ranks = {"failed": 0, "assigned": 1, "pending": 2, "done": 3}
        assert [ranks[s] for s in statuses] == sorted(ranks[s] for s in statuses)
        assert statuses[0] == "failed"
        failed = sorted(
            (r for r in records if r.status is JobStatus.FAILED),
            key=record_time,
            reverse=True,
        )
        shown_ids = table.column_texts("id")
        assert shown_ids[: len(failed)] == [r.id[:SHORT_ID] for r in failed]

        table.focus()
        await pilot.press("s")
        assert jobs.order is SortOrder.NEWEST
        assert jobs.border_title.startswith("Jobs · all · newest first")
        newest = sorted(records, key=lambda r: (-record_time(r), r.id))[:ROW_LIMIT]
        assert table.column_texts("id") == [r.id[:SHORT_ID] for r in newest]

        await pilot.press("s")
        assert jobs.order is SortOrder.PROBLEMS
        assert table.column_texts("status")[0] == "failed"


async def test_big_state_shows_n_of_m(node_file, make_node, wait_until):
    node, records = idle_node(make_node, node_file, 5000)
    app = make_app(node, reload=False)
    async with app.run_test(size=SIZE) as pilot:
        jobs = await jobs_ready(pilot, app, wait_until)
        table = jobs.active_table
        assert table.row_count == ROW_LIMIT
        assert jobs.border_title == (
            f"Jobs · all · problems first · showing {ROW_LIMIT} of 5000"
        )
        assert jobs.all_tab_label() == "All (5000)"
        counts = node.snapshot().counts
        for status in (JobStatus.PENDING, JobStatus.DONE):
            assert (
                jobs.tab_labels()[status]
                == f"{status.name.capitalize()} ({counts[status]})"
            )

        # Later snapshots are applied from the change journal, not rebuilt.
        version = app.snapshot.version
        await wait_until(
            pilot, lambda: app.snapshot.version >= version + 3, "3 snapshots"
        )
        assert jobs.index.full_rebuilds == 1
        # The search text is built in steps, before any filter needs it.
        await wait_until(pilot, lambda: jobs.index.search_ready, "search text built")


async def test_selection_kept_across_refreshes(
    node_file, node_source, make_node, wait_until
):
    # Newest first, each job the node finishes goes above the selected row.
    node = _churning_node(node_file, node_source, make_node, 300)
    app = make_app(node, reload=False)
    async with app.run_test(size=SIZE) as pilot:
        jobs, table = await _newest_first(pilot, app, wait_until)
        for _ in range(5):
            await pilot.press("down")
        selected = table.selected_job_id()
        row = table.cursor_row
        assert selected is not None

        await wait_until(
            pilot, lambda: table.cursor_row >= row + 3, "the row moving down"
        )
        assert table.selected_job_id() == selected
        assert jobs.record(selected).name.startswith("bulk-")


async def test_peer_selection_filters_jobs(node_file, make_node, wait_until):
    node, records = idle_node(make_node, node_file, 200)
    app = make_app(node, reload=False)
    async with app.run_test(size=SIZE) as pilot:
        jobs = await jobs_ready(pilot, app, wait_until)
        peers = app.query_one(PeersTable)
        await wait_until(pilot, lambda: peers.row_count >= 1, "the node's own row")
        await pilot.press("1")
        assert peers.has_focus
        await pilot.press("enter")

        # The only member is this node, which owns none of the bulk jobs.
        assert jobs.job_filter.owner == node.node_id
        assert jobs.active_table.has_focus
        assert jobs.active_table.total == 0
        chip = app.query_one(OwnerChip)
        assert chip.has_class("-set")
        assert node.node_id[:8] in str(chip.render())

        owner = next(r.owner for r in records if r.owner)
        jobs.filter_owner(owner)
        await pilot.pause()
        owned = [r for r in records if r.owner == owner]
        assert jobs.active_table.total == len(owned)
        assert set(jobs.active_table.column_texts("owner")) == {owner[:8]}

        await pilot.click(OwnerChip)
        assert jobs.job_filter.owner is None
        assert jobs.active_table.total == len(records)


async def test_export_csv_and_json_lines(node_file, make_node, wait_until, tmp_path):
    node, records = idle_node(make_node, node_file, 700)
    app = make_app(node, reload=False)
    async with app.run_test(size=SIZE) as pilot:
        jobs = await jobs_ready(pilot, app, wait_until)
        folder = tmp_path / "exports"
        folder.mkdir()
        jobs.export_folder = folder
        jobs.set_filter_text("bulk-")
        jobs.toggle_status(JobStatus.PENDING)
        await pilot.pause()
        expected = [r.id for r in jobs.view_records()]
        assert len(expected) > ROW_LIMIT
        assert len(expected) == sum(
            1 for r in records if r.status is not JobStatus.PENDING
        )

        jobs.focus_table()
        await pilot.press("e")
        await wait_until(
            pilot, lambda: isinstance(app.screen, ExportScreen), "export screen"
        )
        await pilot.press("down", "down", "enter")
        await wait_until(pilot, lambda: len(list(folder.iterdir())) == 2, "two files")

        csv_path = next(folder.glob("ants-jobs-*.csv"))
        with csv_path.open(newline="") as file:
            rows = list(csv.reader(file))
        assert tuple(rows[0]) == FIELDS
        assert [row[0] for row in rows[1:]] == expected
        first = dict(zip(FIELDS, rows[1], strict=True))
        record = jobs.record(first["id"])
        assert first["status"] == record.status.name.lower()
        assert json.loads(first["payload"]) == record.payload

        jsonl_path = next(folder.glob("ants-jobs-*.jsonl"))
        lines = [json.loads(line) for line in jsonl_path.read_text().splitlines()]
        assert [line["id"] for line in lines] == expected
        assert lines[0]["payload"] == jobs.record(expected[0]).payload
        assert list(lines[0]) == list(FIELDS)

        # A folder that does not exist is reported, and nothing is written.
        missing = folder / "missing"
        jobs.export_folder = missing
        await pilot.press("e")
        await wait_until(
            pilot, lambda: isinstance(app.screen, ExportScreen), "export screen"
        )
        await pilot.press("enter")
        await wait_until(
            pilot,
            lambda: any("export failed" in n.message for n in app._notifications),
            "the export error",
        )
        assert not missing.exists()


async def test_screenshot_saved_as_svg(
    node_file, make_node, wait_until, monkeypatch, tmp_path
):
    monkeypatch.chdir(tmp_path)
    node = make_node(node_file)
    app = make_app(node, reload=False)
    async with app.run_test(size=SIZE) as pilot:
        await jobs_ready(pilot, app, wait_until)
        await pilot.press("S")
        await wait_until(
            pilot, lambda: list(tmp_path.glob("ants-dashboard-*.svg")), "the screenshot"
        )
        path = next(tmp_path.glob("ants-dashboard-*.svg"))
        text = path.read_text()
        assert text.lstrip().startswith("<svg")
        assert "</svg>" in text
        assert any(str(path) in n.message for n in app._notifications)


async def test_detail_shows_history(node_file, make_node, wait_until):
    node = make_node(node_file)
    app = make_app(node, reload=False)
    async with app.run_test(size=SIZE) as pilot:
        jobs = await jobs_ready(pilot, app, wait_until)
        await wait_until(
            pilot, lambda: node.snapshot().count(JobStatus.DONE) == 10, "10 jobs done"
        )
        jobs.show_status(JobStatus.DONE)
        table = jobs.table(JobStatus.DONE)
        await wait_until(pilot, lambda: table.row_count == 10, "10 rows in Done")
        table.focus()
        await pilot.press("enter")
        await wait_until(
            pilot, lambda: isinstance(app.screen, JobDetailScreen), "the detail screen"
        )
        screen = app.screen
        job_id = screen.job_id
        statuses = [entry.status for entry in node.job_history(job_id)]
        assert statuses == [JobStatus.PENDING, JobStatus.ASSIGNED, JobStatus.DONE]

        body = screen.body_text()
        history = body[body.index("history on this node") :].splitlines()[2:5]
        assert [line.split()[2] for line in history] == ["pending", "assigned", "done"]
        assert all(f"{node.node_id[:8]} (this node)" in line for line in history[1:])
        for field in (
            "id",
            "name",
            "status",
            "owner",
            "attempt",
            "created",
            "finished",
        ):
            assert any(line.startswith(field) for line in body.splitlines())
        assert "payload" in body
        assert "result" in body


async def test_cursor_moves_past_shown_rows(node_file, make_node, wait_until):
    node, records = idle_node(make_node, node_file, 500)
    done = [r for r in records if r.status is JobStatus.DONE]
    newest = sorted(done, key=lambda r: (-record_time(r), r.id))
    app = make_app(node, reload=False)
    async with app.run_test(size=SIZE) as pilot:
        jobs = await jobs_ready(pilot, app, wait_until)
        table = jobs.table(JobStatus.DONE)
        table.focus()
        await wait_until(pilot, lambda: table.total == len(done), "the done tab")

        await pilot.press("end")
        assert table.selected_job_id() == newest[-1].id
        assert table.first == len(done) - ROW_LIMIT
        assert jobs.border_title.endswith(
            f"showing {len(done) - ROW_LIMIT + 1}-{len(done)} of {len(done)}"
        )
        # The cursor's row is on screen.
        top = round(table.scroll_y)
        assert top <= table.cursor_row < top + table.size.height - 1

        await pilot.press("home")
        assert table.first == 0
        assert table.selected_job_id() == newest[0].id
        for _ in range(ROW_LIMIT // table.size.height + 2):
            await pilot.press("pagedown")
        assert table.first > 0
        position = jobs.index.position(
            table.selected_job_id(), (JobStatus.DONE,), jobs.order
        )
        assert position == table.first + table.cursor_row


async def test_selection_followed_past_shown_rows(
    node_file, node_source, make_node, wait_until
):
    # Newest first, each job the node finishes goes above the selected one,
    # until it is past the first ROW_LIMIT rows.
    node = _churning_node(node_file, node_source, make_node, 400)
    app = make_app(node, reload=False)
    async with app.run_test(size=SIZE) as pilot:
        jobs, table = await _newest_first(pilot, app, wait_until)
        table.move_to_position(ROW_LIMIT - 2)
        selected = table.selected_job_id()
        assert jobs.record(selected).name.startswith("bulk-")

        await wait_until(pilot, lambda: table.first > 0, "rows past the first ones")
        assert table.selected_job_id() == selected
        top = round(table.scroll_y)
        assert top <= table.cursor_row < top + table.size.height - 1
        assert "showing" in jobs.border_title
