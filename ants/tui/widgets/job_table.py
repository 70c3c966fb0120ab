"""A table of jobs in an order chosen by the jobs panel, bounded to a row limit."""

from __future__ import annotations


from rich.text import Text
from textual.widgets import DataTable
from textual.widgets.data_table import CellDoesNotExist, RowDoesNotExist

from ants.node.job import JobRecord, JobStatus
from ants.tui.cells import KeyedText, plain, sort_key_of
from ants.tui.formatting import (
    app_clock,
    compact_json,
    format_age,
    last_line,
    short_id,
    truncate,
)
from ants.tui.job_index import record_time
from ants.tui.palette import Palette, palette

ROW_LIMIT = 200
"""Rows shown per table; a longer view shows only its first rows. Adding a
DataTable row takes about 0.1 ms, and newest first most rows can change at
each refresh. With 300 jobs changed among 100,000, such a refresh took 64 ms
at 500 rows and 22 to 48 ms at 200 on a busy 2-core machine
(benchmarks/RESULTS.md, "Jobs panel refresh")."""

SHORT_ID = 12
"""Characters of a job id shown: 48 bits, so two shown rows rarely share one."""

SUMMARY_WIDTH = 60
"""Characters of a result or error shown in a row; the detail view shows all."""

COLUMNS = (
    ("id", "id"),
    ("status", "status"),
    ("name", "name"),
    ("attempt", "attempt"),
    ("owner", "owner"),
    ("age", "age"),
    ("summary", "error / result"),
)
"""Column keys and labels. The age is the time since the job finished, or
since it was created while it waits or runs."""


class _Row:
    """A row's cells and the record, age and sort key they were built from,
    so that a refresh skips rows that did not change."""

    __slots__ = ("record", "age", "sort_key", "cells")

    def __init__(
        self, record: JobRecord, age: str, sort_key: tuple, cells: tuple
    ) -> None:
        self.record = record
        self.age = age
        self.sort_key = sort_key
        self.cells = cells


class JobTable(DataTable):
    """Rows of jobs, diff-updated, with the cursor kept on its job.

    Rows are keyed by the full job id. Each refresh removes rows whose job
    left the view, adds new ones, rewrites only the cells that changed,
    and sorts once when the set or order of rows changed.
    """

    DEFAULT_CSS = """
    JobTable {
        height: 1fr;
    }
    """

    def __init__(
        self, status: JobStatus | None = None, *, id: str | None = None
    ) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.status = status
        """The status this table shows, or None for the table of every status."""
        self.total = 0
        """Jobs in the view, shown or not."""
        self._rows: dict[str, _Row] = {}
        self._self_id: str | None = None

    def on_mount(self) -> None:
        for key, label in COLUMNS:
            self.add_column(label, key=key)

    @property
    def shown(self) -> int:
        return len(self._rows)

    def selected_job_id(self) -> str | None:
        """Return the id of the job under the cursor, or None for an empty table."""
        if self.row_count == 0:
            return None
        try:
            row_key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key
        except CellDoesNotExist:
            return None
        return row_key.value

    def show(
        self,
        rows: list[tuple[tuple, JobRecord]],
        total: int,
        self_id: str,
        now: float | None = None,
    ) -> None:
        """Show `rows`, (sort key, record) pairs in display order, out of `total`."""
        now = app_clock(self.app) if now is None else now
        self.total = total
        self._self_id = self_id
        colours = palette(self.app)
        shown_ids = {record.id for _, record in rows}
        selected = self.selected_job_id()
        stale = [job_id for job_id in self._rows if job_id not in shown_ids]

        with self.app.batch_update():
            if len(stale) > len(self._rows) // 2 and len(stale) > 20:
                # Removing a row costs O(rows); rebuilding is cheaper when most go.
                self.clear()
                self._rows.clear()
            else:
                for job_id in stale:
                    self.remove_row(job_id)
                    del self._rows[job_id]
            added = reordered = False
            for sort_key, record in rows:
                age = format_age(now - record_time(record))
                old = self._rows.get(record.id)
                if (
                    old is not None
                    and old.record is record
                    and old.age == age
                    and old.sort_key == sort_key
                ):
                    continue
                cells = self._cells_of(record, sort_key, age, colours)
                if old is None:
                    self.add_row(*cells, key=record.id)
                    added = True
                else:
                    self._update_row(record.id, old.cells, cells)
                    reordered |= old.sort_key != sort_key
                self._rows[record.id] = _Row(record, age, sort_key, cells)
            if added or stale or reordered:
                self.sort("id", key=sort_key_of)
            if selected is not None and selected in self._rows:
                row = self.get_row_index(selected)
                if row != self.cursor_row:
                    self.move_cursor(row=row, animate=False, scroll=False)

    def _update_row(self, job_id: str, old: tuple, new: tuple) -> None:
        for (column, _), before, after in zip(COLUMNS, old, new, strict=True):
            if before != after:
                # Measuring widths costs a pass over the column, so only a cell
                # that may not fit asks for it.
                wider = cell_width(after) > self.columns[column].content_width
                try:
                    self.update_cell(job_id, column, after, update_width=wider)
                except (CellDoesNotExist, RowDoesNotExist):
                    return

    def _cells_of(
        self, record: JobRecord, sort_key: tuple, age: str, colours: Palette
    ) -> tuple:
        owner = Text(short_id(record.owner))
        if record.owner is not None and record.owner == self._self_id:
            owner.stylize(colours.accent)
        summary = Text(_summary(record))
        if record.status is not JobStatus.DONE and record.error:
            summary.stylize(colours.error)
        status_styles = {
            JobStatus.FAILED: colours.error,
            JobStatus.ASSIGNED: colours.primary,
            JobStatus.DONE: colours.success,
        }
        status = Text(
            record.status.name.lower(), style=status_styles.get(record.status, "")
        )
        attempt = f"{record.attempt + 1}/{record.max_attempts}"
        # Plain strings would be parsed as console markup, so every cell is Text.
        return (
            KeyedText(record.id[:SHORT_ID], sort_key),
            status,
            Text(truncate(record.name, 30)),
            Text(attempt),
            owner,
            Text(age),
            summary,
        )

    def cell_texts(self) -> list[list[str]]:
        """Return the rows as plain strings, in display order."""
        return [
            [plain(cell) for cell in self.get_row_at(row)]
            for row in range(self.row_count)
        ]

    def column_texts(self, column: str) -> list[str]:
        """Return one column's cells as plain strings, in display order."""
        index = [key for key, _ in COLUMNS].index(column)
        return [row[index] for row in self.cell_texts()]


def _summary(record: JobRecord) -> str:
    if record.status is JobStatus.DONE:
        return truncate(compact_json(record.result), SUMMARY_WIDTH)
    if record.error:
        return truncate(last_line(record.error), SUMMARY_WIDTH)
    return ""


def cell_width(cell: object) -> int:
    """Return the width of a cell's text in terminal columns."""
    if isinstance(cell, Text):
        return cell.cell_len
    return Text(str(cell)).cell_len
