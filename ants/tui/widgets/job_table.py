"""A list of jobs in an order chosen by the jobs panel, drawn line by line.

Textual's DataTable draws every visible cell again after any change to the
table, and 5 new jobs a beat change it at every refresh. This widget draws
only the lines on screen, each from a line its row keeps until the row's
job, age or column widths change, so a refresh costs about the rows that
changed.
"""

from __future__ import annotations

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from ants.node.job import JobRecord, JobStatus
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
"""Rows shown per table. A longer view shows 200 rows around the cursor,
and moving the cursor past them shows other rows. The table draws only the
lines on screen, but each refresh still compares every shown row with the
last snapshot's, so the limit bounds that work."""

SHORT_ID = 12
"""Characters of a job id shown: 48 bits, so two shown rows rarely share one."""

SUMMARY_WIDTH = 60
"""Characters of a result or error shown in a row; the detail view shows all."""

NAME_WIDTH = 30
"""Characters of a job name shown in a row."""

CELL_PADDING = 1
"""Blank cells on each side of a cell's text."""

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

COLUMN_KEYS = tuple(key for key, _ in COLUMNS)
HEADER_LINES = 1


class _Row:
    """A shown job: the record and age its cells were made from, the cells'
    texts, styles and widths, and its drawn line once it was on screen."""

    __slots__ = ("record", "age", "texts", "styles", "widths", "line", "line_widths")

    def __init__(
        self,
        record: JobRecord,
        age: str,
        texts: tuple[str, ...],
        styles: tuple[Style | None, ...],
    ) -> None:
        self.record = record
        self.age = age
        self.texts = texts
        self.styles = styles
        self.widths = tuple(cell_len(text) for text in texts)
        self.line: Strip | None = None
        self.line_widths: tuple[int, ...] = ()


class JobTable(ScrollView, can_focus=True):
    """Rows of jobs with a header line, a row cursor and zebra stripes.

    `show` replaces the rows with a new ordered list and keeps the cursor
    on the job it was on. Enter, or a click on a row, posts
    `JobTable.RowSelected` with the job's id.
    """

    COMPONENT_CLASSES = {
        "job-table--header",
        "job-table--cursor",
        "job-table--even-row",
        "job-table--odd-row",
    }

    DEFAULT_CSS = """
    JobTable {
        height: 1fr;
        background: $surface;
        color: $foreground;
        &:focus {
            background-tint: $foreground 5%;
            & > .job-table--cursor {
                background: $block-cursor-background;
                color: $block-cursor-foreground;
                text-style: $block-cursor-text-style;
            }
            & > .job-table--header {
                background-tint: $foreground 5%;
            }
        }
        &:dark > .job-table--even-row {
            background: $surface-darken-1 40%;
        }
        & > .job-table--header {
            text-style: bold;
            background: $panel;
            color: $foreground;
        }
        & > .job-table--even-row {
            background: $surface-lighten-1 50%;
        }
        & > .job-table--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
    }
    """

    BINDINGS = [
        Binding("up", "cursor_up", show=False),
        Binding("down", "cursor_down", show=False),
        Binding("pageup", "page_up", show=False),
        Binding("pagedown", "page_down", show=False),
        Binding("home", "first_row", show=False),
        Binding("end", "last_row", show=False),
        Binding("enter", "select_row", show=False),
    ]

    class RowSelected(Message):
        """Enter was pressed, or a row clicked, on the row of `job_id`."""

        def __init__(self, table: JobTable, job_id: str) -> None:
            super().__init__()
            self.table = table
            self.job_id = job_id

        @property
        def control(self) -> JobTable:
            return self.table

    class PositionRequested(Message):
        """The cursor was moved to a job of the view outside the rows shown.

        The jobs panel shows rows around `position`, a place in the whole
        view, and then puts the cursor on it.
        """

        def __init__(self, table: JobTable, position: int) -> None:
            super().__init__()
            self.table = table
            self.position = position

        @property
        def control(self) -> JobTable:
            return self.table

    def __init__(
        self, status: JobStatus | None = None, *, id: str | None = None
    ) -> None:
        super().__init__(id=id)
        self.status = status
        """The status this table shows, or None for the table of every status."""
        self.total = 0
        """Jobs in the view, shown or not."""
        self.first = 0
        """Place in the whole view of the first row shown."""
        self.cursor_row = 0
        """Index of the row under the cursor."""
        self._order: list[_Row] = []
        self._rows: dict[str, _Row] = {}
        self._positions: dict[str, int] = {}
        self._widths = tuple(cell_len(label) for _, label in COLUMNS)
        self._header: Strip | None = None
        self._self_id: str | None = None
        self._colours: Palette | None = None

    # What is shown

    @property
    def row_count(self) -> int:
        return len(self._order)

    @property
    def shown(self) -> int:
        return len(self._order)

    def selected_job_id(self) -> str | None:
        """Return the id of the job under the cursor, or None for an empty table."""
        if not self._order:
            return None
        return self._order[self.cursor_row].record.id

    def has_job(self, job_id: str) -> bool:
        """Return whether the job has a row in the table."""
        return job_id in self._positions

    def get_row_index(self, job_id: str) -> int:
        """Return the position of a shown job's row; KeyError if it is not shown."""
        return self._positions[job_id]

    def column_width(self, column: str) -> int:
        """Return the width of a column's text in cells, without padding."""
        return self._widths[COLUMN_KEYS.index(column)]

    def cell_texts(self) -> list[list[str]]:
        """Return the rows as plain strings, in display order."""
        return [list(row.texts) for row in self._order]

    def column_texts(self, column: str) -> list[str]:
        """Return one column's cells as plain strings, in display order."""
        index = COLUMN_KEYS.index(column)
        return [row.texts[index] for row in self._order]

    def show(
        self,
        rows: list[tuple[tuple, JobRecord]],
        total: int,
        self_id: str,
        now: float | None = None,
        first: int = 0,
    ) -> None:
        """Show `rows`, (sort key, record) pairs in display order, out of
        `total`; the first row is at place `first` in the whole view."""
        now = app_clock(self.app) if now is None else now
        self.total = total
        moved_by = first - self.first
        self.first = first
        colours = palette(self.app)
        if colours is not self._colours or self_id != self._self_id:
            # Cell styles come from the theme and the node's own id.
            self._rows = {}
            self._colours = colours
            self._self_id = self_id
        selected = self.selected_job_id()
        order: list[_Row] = []
        reused = 0
        for _, record in rows:
            age = format_age(now - record_time(record))
            row = self._rows.get(record.id)
            if row is not None and row.record is record and row.age == age:
                reused += 1
            else:
                row = self._make_row(record, age, colours)
            order.append(row)
        if (
            moved_by == 0
            and reused == len(order) == len(self._order)
            and all(new is old for new, old in zip(order, self._order))
        ):
            return
        cursor_visible = self._cursor_visible()

        self._order = order
        self._rows = {row.record.id: row for row in order}
        self._positions = {row.record.id: index for index, row in enumerate(order)}
        self._fit_columns(grow_only=2 * reused >= len(order))
        if selected in self._positions:
            self.cursor_row = self._positions[selected]
        self.cursor_row = max(0, min(self.cursor_row, len(order) - 1))
        self._resize()
        if moved_by:
            # The same jobs keep their lines on screen when the rows shown
            # start at another place in the view.
            self.scroll_to(y=self.scroll_y - moved_by, animate=False, immediate=True)
        if cursor_visible:
            # The cursor followed its job; keep it in sight.
            self._scroll_to_cursor()
        self.refresh()

    def _make_row(self, record: JobRecord, age: str, colours: Palette) -> _Row:
        owner_style = None
        if record.owner is not None and record.owner == self._self_id:
            owner_style = Style.parse(colours.accent)
        summary_style = None
        if record.status is not JobStatus.DONE and record.error:
            summary_style = Style.parse(colours.error)
        status_colours = {
            JobStatus.FAILED: colours.error,
            JobStatus.ASSIGNED: colours.primary,
            JobStatus.DONE: colours.success,
        }
        status_colour = status_colours.get(record.status)
        status_style = None if status_colour is None else Style.parse(status_colour)
        texts = (
            record.id[:SHORT_ID],
            record.status.name.lower(),
            _one_line(truncate(record.name, NAME_WIDTH)),
            f"{record.attempt + 1}/{record.max_attempts}",
            short_id(record.owner),
            age,
            _one_line(_summary(record)),
        )
        styles = (None, status_style, None, None, owner_style, None, summary_style)
        return _Row(record, age, texts, styles)

    def _fit_columns(self, grow_only: bool) -> None:
        widths = [cell_len(label) for _, label in COLUMNS]
        for row in self._order:
            widths = [max(a, b) for a, b in zip(widths, row.widths)]
        if grow_only:
            widths = [max(a, b) for a, b in zip(widths, self._widths)]
        if tuple(widths) != self._widths:
            self._widths = tuple(widths)
            self._header = None

    def _resize(self) -> None:
        width = sum(self._widths) + 2 * CELL_PADDING * len(self._widths)
        size = Size(width, len(self._order) + HEADER_LINES)
        if size != self.virtual_size:
            self.virtual_size = size

    # Drawing

    def _line_of(self, texts: tuple[str, ...], styles: tuple) -> Strip:
        pad = " " * CELL_PADDING
        segments = [
            Segment(pad + set_cell_size(text, width) + pad, style)
            for text, style, width in zip(texts, styles, self._widths)
        ]
        return Strip(segments)

    def _row_line(self, row: _Row) -> Strip:
        if row.line is None or row.line_widths != self._widths:
            row.line = self._line_of(row.texts, row.styles)
            row.line_widths = self._widths
        return row.line

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        scroll_x, scroll_y = self.scroll_offset
        post_style = None
        if y < HEADER_LINES:
            if self._header is None:
                labels = tuple(label for _, label in COLUMNS)
                self._header = self._line_of(labels, (None,) * len(COLUMNS))
            line = self._header
            style = self.get_component_rich_style("job-table--header")
        else:
            index = scroll_y + y - HEADER_LINES
            if index >= len(self._order):
                return Strip.blank(width, self.rich_style)
            line = self._row_line(self._order[index])
            stripe = "job-table--even-row" if index % 2 == 0 else "job-table--odd-row"
            style = self.get_component_rich_style(stripe)
            if index == self.cursor_row:
                cursor = self.get_component_rich_style("job-table--cursor")
                style += cursor
                # The cursor's colour wins over the cell's, as in a DataTable.
                post_style = Style(color=cursor.color)
        line = line.crop(scroll_x, scroll_x + width).adjust_cell_length(width)
        return Strip(Segment.apply_style(iter(line), style, post_style), width)

    # The cursor

    def move_cursor(self, row: int, scroll: bool = True) -> None:
        """Put the cursor on `row`, clamped to the rows shown."""
        row = max(0, min(row, len(self._order) - 1))
        if row != self.cursor_row:
            self.refresh_row(self.cursor_row)
            self.cursor_row = row
            self.refresh_row(row)
        if scroll:
            self._scroll_to_cursor()

    def refresh_row(self, row: int) -> None:
        self.refresh_line(row + HEADER_LINES)

    def _cursor_visible(self) -> bool:
        top = round(self.scroll_y)
        return top <= self.cursor_row < top + self._page_rows()

    def _page_rows(self) -> int:
        return max(1, self.scrollable_content_region.height - HEADER_LINES)

    def _scroll_to_cursor(self) -> None:
        top = round(self.scroll_y)
        page = self._page_rows()
        if self.cursor_row < top:
            self.scroll_to(y=self.cursor_row, animate=False, immediate=True)
        elif self.cursor_row >= top + page:
            self.scroll_to(y=self.cursor_row - page + 1, animate=False, immediate=True)

    def move_to_position(self, position: int) -> None:
        """Put the cursor on the job at `position` in the whole view.

        Outside the rows shown, this posts PositionRequested so that the jobs
        panel shows other rows.
        """
        position = max(0, min(position, self.total - 1))
        row = position - self.first
        if 0 <= row < len(self._order):
            self.move_cursor(row)
        elif self._order:
            self.post_message(self.PositionRequested(self, position))

    def _cursor_position(self) -> int:
        return self.first + self.cursor_row

    def action_cursor_up(self) -> None:
        self.move_to_position(self._cursor_position() - 1)

    def action_cursor_down(self) -> None:
        self.move_to_position(self._cursor_position() + 1)

    def action_page_up(self) -> None:
        self.move_to_position(self._cursor_position() - self._page_rows())

    def action_page_down(self) -> None:
        self.move_to_position(self._cursor_position() + self._page_rows())

    def action_first_row(self) -> None:
        self.move_to_position(0)

    def action_last_row(self) -> None:
        self.move_to_position(self.total - 1)

    def action_select_row(self) -> None:
        job_id = self.selected_job_id()
        if job_id is not None:
            self.post_message(self.RowSelected(self, job_id))

    async def _on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None or offset.y < HEADER_LINES:
            return
        row = round(self.scroll_y) + offset.y - HEADER_LINES
        if row < len(self._order):
            self.move_cursor(row)
            self.action_select_row()


def _summary(record: JobRecord) -> str:
    if record.status is JobStatus.DONE:
        return truncate(compact_json(record.result), SUMMARY_WIDTH)
    if record.error:
        return truncate(last_line(record.error), SUMMARY_WIDTH)
    return ""


def _one_line(text: str) -> str:
    """Return `text` with line breaks and tabs as spaces, so it takes one line."""
    return text.translate(_ONE_LINE)


_ONE_LINE = str.maketrans({"\n": " ", "\r": " ", "\t": " "})
