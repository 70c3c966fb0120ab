"""A table of the jobs in one status, newest first, bounded to a row limit."""

from __future__ import annotations

import heapq
import time
from collections.abc import Iterable

from rich.text import Text
from textual.widgets import DataTable
from textual.widgets.data_table import CellDoesNotExist, RowDoesNotExist

from ants.node.job import JobRecord, JobStatus
from ants.tui.cells import KeyedText, plain, sort_key_of
from ants.tui.formatting import compact_json, format_age, last_line, short_id, truncate
from ants.tui.palette import palette

ROW_LIMIT = 500
"""Rows shown per status. Every DataTable change costs time in proportion
to its row count, so a status with more jobs shows only the newest."""

SHORT_ID = 12
"""Characters of a job id shown: 48 bits, so two shown rows rarely share one."""

SUMMARY_WIDTH = 60
"""Characters of a result or error shown in a row; the detail view shows all."""

COLUMNS = (
    ("id", "id"),
    ("name", "name"),
    ("attempt", "attempt"),
    ("owner", "owner"),
    ("age", "age"),
    ("summary", "error / result"),
)
"""Column keys and labels. The age is the time since the job finished, or
since it was created while it waits or runs."""


def record_time(record: JobRecord) -> float:
    """Return when a record last changed as far as it shows: finished, else created."""
    return record.finished if record.finished is not None else record.created


def newest_records(
    records: Iterable[JobRecord], status: JobStatus, limit: int = ROW_LIMIT
) -> tuple[list[JobRecord], int]:
    """Return up to `limit` records of `status`, newest first, and their total."""
    matching = [record for record in records if record.status is status]
    key = _newest_first_key
    if len(matching) > limit:
        chosen = heapq.nsmallest(limit, matching, key=key)
    else:
        chosen = sorted(matching, key=key)
    return chosen, len(matching)


def _newest_first_key(record: JobRecord) -> tuple[float, str]:
    return (-record_time(record), record.id)


class JobTable(DataTable):
    """Rows of one job status, diff-updated, with the cursor kept on its job.

    Rows are keyed by the full job id. Each refresh removes rows whose job
    left the status, adds new ones, rewrites only the cells that changed,
    and sorts once when the set of rows changed.
    """

    DEFAULT_CSS = """
    JobTable {
        height: 1fr;
    }
    """

    def __init__(self, status: JobStatus, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.status = status
        self.total = 0
        """Jobs of this status in the snapshot, shown or not."""
        self._cells: dict[str, tuple] = {}
        self._self_id: str | None = None

    def on_mount(self) -> None:
        for key, label in COLUMNS:
            self.add_column(label, key=key)

    @property
    def shown(self) -> int:
        return len(self._cells)

    def selected_job_id(self) -> str | None:
        """Return the id of the job under the cursor, or None for an empty table."""
        if self.row_count == 0:
            return None
        try:
            row_key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key
        except CellDoesNotExist:
            return None
        return row_key.value

    def apply_records(
        self, records: Iterable[JobRecord], self_id: str, now: float | None = None
    ) -> None:
        """Show the newest jobs of this table's status among `records`."""
        now = time.time() if now is None else now
        chosen, self.total = newest_records(records, self.status)
        self._self_id = self_id
        target = {record.id: self._cells_of(record, now) for record in chosen}
        selected = self.selected_job_id()
        stale = [job_id for job_id in self._cells if job_id not in target]

        with self.app.batch_update():
            if len(stale) > len(self._cells) // 2 and len(stale) > 20:
                # Removing a row costs O(rows); rebuilding is cheaper when most go.
                self.clear()
                self._cells.clear()
            else:
                for job_id in stale:
                    self.remove_row(job_id)
                    del self._cells[job_id]
            added = reordered = False
            for job_id, cells in target.items():
                old = self._cells.get(job_id)
                if old is None:
                    self.add_row(*cells, key=job_id)
                    added = True
                elif old != cells:
                    self._update_row(job_id, old, cells)
                    reordered |= old[0].sort_key != cells[0].sort_key
                self._cells[job_id] = cells
            if added or stale or reordered:
                self.sort("id", key=sort_key_of)
            if selected is not None and selected in self._cells:
                row = self.get_row_index(selected)
                if row != self.cursor_row:
                    self.move_cursor(row=row, animate=False, scroll=False)

    def _update_row(self, job_id: str, old: tuple, new: tuple) -> None:
        for (column, _), before, after in zip(COLUMNS, old, new, strict=True):
            if before != after:
                try:
                    self.update_cell(job_id, column, after)
                except (CellDoesNotExist, RowDoesNotExist):
                    return

    def _cells_of(self, record: JobRecord, now: float) -> tuple:
        colours = palette(self.app)
        owner = Text(short_id(record.owner))
        if record.owner is not None and record.owner == self._self_id:
            owner.stylize(colours.accent)
        summary = Text(_summary(record))
        if record.status is not JobStatus.DONE and record.error:
            summary.stylize(colours.error)
        attempt = f"{record.attempt + 1}/{record.max_attempts}"
        # Plain strings would be parsed as console markup, so every cell is Text.
        return (
            KeyedText(record.id[:SHORT_ID], _newest_first_key(record)),
            Text(truncate(record.name, 30)),
            Text(attempt),
            owner,
            Text(format_age(now - record_time(record))),
            summary,
        )

    def cell_texts(self) -> list[list[str]]:
        """Return the rows as plain strings, in display order."""
        return [
            [plain(cell) for cell in self.get_row_at(row)]
            for row in range(self.row_count)
        ]


def _summary(record: JobRecord) -> str:
    if record.status is JobStatus.DONE:
        return truncate(compact_json(record.result), SUMMARY_WIDTH)
    if record.error:
        return truncate(last_line(record.error), SUMMARY_WIDTH)
    return ""
