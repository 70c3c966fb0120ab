"""The jobs: an All tab and one tab per status, with a filter bar, two sort
orders and export of the current view."""

from __future__ import annotations

import gc
import logging
import time
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from rich.cells import cell_len
from textual.content import Content
from textual.widgets import Static, TabbedContent, TabPane

from ants.node.job import JobRecord, JobStatus
from ants.node.snapshot import NodeSnapshot
from ants.tui.export import ExportFormat, export_jobs
from ants.tui.job_index import PROBLEM_ORDER, JobFilter, JobIndex, SortOrder
from ants.tui.widgets.export_screen import ExportScreen
from ants.tui.widgets.job_filter_bar import (
    TOGGLE_KEYS,
    FilterInput,
    JobFilterBar,
    OwnerChip,
    StatusToggle,
)
from ants.tui.widgets.job_table import ROW_LIMIT, JobTable

logger = logging.getLogger(__name__)

STATUSES = (JobStatus.PENDING, JobStatus.ASSIGNED, JobStatus.DONE, JobStatus.FAILED)
"""Statuses with a tab of their own, in tab order after All."""

ALL_PANE = "jobs-all"
LABEL_INTERVAL = 1.0
"""Minimum seconds between two label changes that change a tab's width, such
as "Done (99)" to "Done (100)". Such a change lays out the whole screen again,
which costs more than the rest of a refresh. Labels that keep their width
change at every refresh."""


FREEZE_MIN_JOBS = 10_000
"""Jobs from which a rebuilt index is followed by `gc.freeze()`."""
SEARCH_STEP = 2000
"""Jobs whose search text is built in one step after a snapshot, about 6 ms
of work, so that the first key typed in the filter does not wait for all."""
SEARCH_STEP_DELAY = 0.05
"""Seconds between two such steps, leaving the UI free in between."""


def pane_id(status: JobStatus) -> str:
    return f"jobs-{status.name.lower()}"


def tab_label(status: JobStatus, count: int, total: int | None = None) -> str:
    """Return a tab label: "Done (200)", or "Done (12/200)" when filtered."""
    shown = str(count) if total is None else f"{count}/{total}"
    return f"{status.name.capitalize()} ({shown})"


class JobsPanel(Vertical):
    """Tabs All, Pending, Assigned, Done and Failed, each with a JobTable.

    All shows the statuses toggled on; the filter text and owner apply to
    every tab. Only the visible tab's table is refreshed on each snapshot,
    and a tab is brought up to date when it is activated. Enter on a row
    posts `JobsPanel.JobSelected`.
    """

    DEFAULT_CSS = """
    JobsPanel {
        height: 1fr;
        border: round $primary 50%;
        border-title-color: $text;
    }
    JobsPanel:focus-within {
        border: round $primary;
    }
    JobsPanel.-has-failed {
        border-subtitle-color: $error;
    }
    JobsPanel TabbedContent {
        height: 1fr;
    }
    JobsPanel TabPane {
        padding: 0;
    }
    """

    BINDINGS = [
        Binding(
            "left_square_bracket", "switch_tab(-1)", "Previous jobs tab", show=False
        ),
        Binding("right_square_bracket", "switch_tab(1)", "Next jobs tab", show=False),
        Binding("slash", "open_filter", "Filter", key_display="/"),
        Binding("s", "toggle_sort", "Sort"),
        Binding("e", "export", "Export"),
        Binding("escape", "clear_filter", "Clear filter", show=False),
        *(
            Binding(
                key,
                f"toggle_status('{status.name}')",
                "Show or hide failed, assigned, pending or done jobs in the All tab",
                show=False,
            )
            for status, key in TOGGLE_KEYS.items()
        ),
    ]

    class JobSelected(Message):
        """Enter was pressed on a job row."""

        def __init__(self, job_id: str) -> None:
            super().__init__()
            self.job_id = job_id

    class ExportFinished(Message):
        """An export written on a worker thread ended, with its files or an error."""

        def __init__(self, paths: list[Path], count: int, error: str | None) -> None:
            super().__init__()
            self.paths = paths
            self.count = count
            self.error = error

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.border_title = "Jobs"
        self.snapshot: NodeSnapshot | None = None
        self._labels_resized_at = -LABEL_INTERVAL
        self._counts_pending = False
        self._preparing_search = False
        self.index = JobIndex()
        self.order = SortOrder.PROBLEMS
        self.shown_statuses: set[JobStatus] = set(STATUSES)
        """Statuses the All tab shows."""
        self.export_folder: Path | None = None
        """Folder an export is offered to go to; None means the current directory."""

    def compose(self) -> ComposeResult:
        yield JobFilterBar(id="job-filter-bar")
        with TabbedContent(id="jobs-tabs", initial=ALL_PANE):
            with TabPane("All (0)", id=ALL_PANE):
                yield JobTable(None, id=f"{ALL_PANE}-table")
            for status in STATUSES:
                with TabPane(tab_label(status, 0), id=pane_id(status)):
                    yield JobTable(status, id=f"{pane_id(status)}-table")

    def on_mount(self) -> None:
        self.filter_bar.show_filter(self.shown_statuses, None)
        self._show_title()

    # Parts

    @property
    def tabs(self) -> TabbedContent:
        return self.query_one("#jobs-tabs", TabbedContent)

    @property
    def filter_bar(self) -> JobFilterBar:
        return self.query_one(JobFilterBar)

    def table(self, status: JobStatus | None) -> JobTable:
        """Return the table of `status`, or of the All tab for None."""
        pane = ALL_PANE if status is None else pane_id(status)
        return self.query_one(f"#{pane}-table", JobTable)

    @property
    def active_table(self) -> JobTable:
        active = self.tabs.active or ALL_PANE
        return self.query_one(f"#{active}-table", JobTable)

    def selected_job_id(self) -> str | None:
        """Return the id of the job under the cursor of the visible tab, if any."""
        return self.active_table.selected_job_id()

    def tab_labels(self) -> dict[JobStatus, str]:
        """Return the current label text of every status tab."""
        return {
            status: self.tabs.get_tab(pane_id(status)).label.plain
            for status in STATUSES
        }

    def all_tab_label(self) -> str:
        return self.tabs.get_tab(ALL_PANE).label.plain

    def show_status(self, status: JobStatus | None) -> None:
        """Activate the tab of `status`, or the All tab for None."""
        self.tabs.active = ALL_PANE if status is None else pane_id(status)

    def record(self, job_id: str) -> JobRecord | None:
        """Return the latest record of a job, filtered out or not."""
        return self.index.record(job_id)

    def focus_table(self) -> None:
        self.active_table.focus()

    # The view

    def view_statuses(self, table: JobTable | None = None) -> tuple[JobStatus, ...]:
        """Return the statuses a table shows: its own, or those toggled on for All."""
        table = self.active_table if table is None else table
        if table.status is not None:
            return (table.status,)
        return tuple(
            status for status in PROBLEM_ORDER if status in self.shown_statuses
        )

    def view_records(self) -> list[JobRecord]:
        """Return every job of the active tab in the filter and order, unbounded."""
        return list(self.index.records(self.view_statuses(), self.order))

    def apply_snapshot(self, snapshot: NodeSnapshot) -> None:
        self.snapshot = snapshot
        rebuilds = self.index.full_rebuilds
        self.index.update(snapshot)
        if self.index.full_rebuilds > rebuilds and len(self.index) >= FREEZE_MIN_JOBS:
            # The garbage collector's full passes walk every object, and at
            # 100,000 jobs one took up to 200 ms, holding up the node's beat
            # thread. Objects alive now are left out of those passes. The
            # jobs' records and index entries hold no reference cycles, so
            # reference counting still frees them once they are replaced.
            gc.freeze()
        if not self.index.search_ready and not self._preparing_search:
            self._preparing_search = True
            self.set_timer(SEARCH_STEP_DELAY, self._prepare_search_step)
        self._show_counts(resize=self._may_resize_labels())
        self._refresh_active()
        failed = snapshot.count(JobStatus.FAILED)
        self.set_class(failed > 0, "-has-failed")
        self.border_subtitle = f"{failed} failed" if failed else ""

    def _prepare_search_step(self) -> None:
        if self.index.prepare_search(SEARCH_STEP):
            self._preparing_search = False
        else:
            self.set_timer(SEARCH_STEP_DELAY, self._prepare_search_step)

    def _may_resize_labels(self) -> bool:
        return time.monotonic() >= self._labels_resized_at + LABEL_INTERVAL

    def _show_counts_now(self) -> None:
        self._counts_pending = False
        self._show_counts()

    def _show_counts(self, resize: bool = True) -> None:
        """Write the counts into the tab labels.

        With `resize` False, a label that would change width waits for a timer.
        """
        filtered = self.index.filter.is_active
        labels = {}
        for status in STATUSES:
            count = self.index.count((status,))
            total = self.index.total(status) if filtered else None
            labels[pane_id(status)] = tab_label(status, count, total)
        all_count = self.index.count(self.view_statuses(self.table(None)))
        labels[ALL_PANE] = f"All ({all_count})"

        waiting = False
        for pane, label in labels.items():
            waiting |= not self._set_label(pane, label, resize)
        if waiting and not self._counts_pending:
            self._counts_pending = True
            wait = self._labels_resized_at + LABEL_INTERVAL - time.monotonic()
            self.set_timer(max(0.0, wait), self._show_counts_now)

    def _set_label(self, pane: str, label: str, resize: bool) -> bool:
        """Set a tab's label and return True, or return False when it must wait."""
        tab = self.tabs.get_tab(pane)
        old = tab.label.plain
        if old == label:
            return True
        if cell_len(old) == cell_len(label):
            # Tab's label setter lays out the whole screen, which costs more
            # than the rest of a refresh at 100,000 jobs. A label of the
            # same width only needs the tab drawn again.
            tab._label = Content(label)
            Static.update(tab, tab._label, layout=False)
            return True
        if not resize:
            return False
        self._labels_resized_at = time.monotonic()
        tab.label = label
        return True

    def _refresh_active(self, around: int | None = None, restart: bool = False) -> None:
        """Show the active tab's rows.

        They start at the current first row, or around the selected job when
        that job is outside them, or around place `around` in the view when
        given. With `restart`, as after a new filter or order, they start at
        the top unless the selected job is further down.
        """
        if self.snapshot is None:
            return
        table = self.active_table
        statuses = self.view_statuses(table)
        count = self.index.count(statuses)
        first = 0 if restart else table.first
        if around is None:
            selected = table.selected_job_id()
            if selected is not None:
                around = self.index.position(selected, statuses, self.order)
        if around is not None and not first <= around < first + ROW_LIMIT:
            first = around - ROW_LIMIT // 2
        first = max(0, min(first, count - ROW_LIMIT))
        rows = self.index.window(statuses, self.order, first, ROW_LIMIT)
        table.show(rows, count, self.snapshot.node_id, first=first)
        self._show_title()

    def _show_title(self) -> None:
        table = self.active_table
        name = "all" if table.status is None else table.status.name.lower()
        title = f"Jobs · {name} · {self.order.value}"
        if table.first > 0:
            last = table.first + table.shown
            title += f" · showing {table.first + 1}-{last} of {table.total}"
        elif table.total > table.shown:
            title += f" · showing {table.shown} of {table.total}"
        self.border_title = title

    # Filtering and sorting

    @property
    def job_filter(self) -> JobFilter:
        return self.index.filter

    def set_filter_text(self, text: str) -> None:
        self._set_filter(JobFilter(text.strip(), self.index.filter.owner))

    def filter_owner(self, owner: str | None) -> None:
        """Show only jobs whose owner is `owner`; None shows every owner."""
        self._set_filter(JobFilter(self.index.filter.text, owner))

    def toggle_status(self, status: JobStatus) -> None:
        """Turn `status` on or off in the All tab."""
        self.shown_statuses ^= {status}
        self._filter_changed()

    def clear_filter(self) -> None:
        """Show every job of every status again and close the filter bar."""
        self.shown_statuses = set(STATUSES)
        self.filter_bar.input.value = ""
        self._set_filter(JobFilter())
        self.filter_bar.close()

    def _set_filter(self, job_filter: JobFilter) -> None:
        self.index.set_filter(job_filter)
        self._filter_changed()

    def _filter_changed(self) -> None:
        job_filter = self.index.filter
        bar = self.filter_bar
        bar.show_filter(self.shown_statuses, job_filter.owner)
        if job_filter.is_active or self.shown_statuses != set(STATUSES):
            bar.open(focus=False)
        elif not bar.input.has_focus:
            bar.close()
        self._show_counts()
        self._refresh_active(restart=True)

    def set_order(self, order: SortOrder) -> None:
        self.order = order
        self._refresh_active(restart=True)

    # Actions

    def action_switch_tab(self, step: int) -> None:
        ids = [ALL_PANE, *(pane_id(status) for status in STATUSES)]
        current = ids.index(self.tabs.active) if self.tabs.active in ids else 0
        self.tabs.active = ids[(current + step) % len(ids)]
        self.focus_table()

    def action_open_filter(self) -> None:
        self.filter_bar.open(focus=True)

    def action_clear_filter(self) -> None:
        self.clear_filter()
        self.focus_table()

    def action_toggle_sort(self) -> None:
        following = (
            SortOrder.NEWEST if self.order is SortOrder.PROBLEMS else SortOrder.PROBLEMS
        )
        self.set_order(following)

    def action_toggle_status(self, name: str) -> None:
        self.toggle_status(JobStatus[name])

    def action_export(self) -> None:
        folder = self.export_folder if self.export_folder is not None else Path.cwd()
        count = self.index.count(self.view_statuses())
        self.app.push_screen(ExportScreen(folder, count), self._export_chosen)

    def _export_chosen(
        self, choice: tuple[tuple[ExportFormat, ...], Path] | None
    ) -> None:
        if choice is None:
            return
        formats, folder = choice
        self.export_folder = folder
        self._write_export(self.view_records(), formats, folder)

    @work(thread=True, exit_on_error=False, group="jobs-export")
    def _write_export(
        self, records: list[JobRecord], formats: tuple[ExportFormat, ...], folder: Path
    ) -> None:
        # Writing 100,000 jobs took about a second per format in a test, so
        # it runs off the UI thread.
        try:
            paths = export_jobs(records, folder, formats)
        except OSError as exc:
            logger.error(
                "exporting %d job(s) to %s failed: %s", len(records), folder, exc
            )
            self.post_message(self.ExportFinished([], len(records), str(exc)))
            return
        logger.info(
            "exported %d job(s) to %s", len(records), ", ".join(map(str, paths))
        )
        self.post_message(self.ExportFinished(paths, len(records), None))

    @on(ExportFinished)
    def _export_finished(self, message: ExportFinished) -> None:
        if message.error is not None:
            self.notify(
                f"export failed: {message.error}; press e to choose another folder",
                severity="error",
                timeout=10,
                markup=False,
            )
            return
        files = " and ".join(str(path) for path in message.paths)
        self.notify(f"exported {message.count} job(s) to {files}", markup=False)

    # Events from the parts

    @on(JobFilterBar.TextChanged)
    def _text_changed(self, message: JobFilterBar.TextChanged) -> None:
        self.set_filter_text(message.text)

    @on(FilterInput.Closed)
    def _input_closed(self, message: FilterInput.Closed) -> None:
        if message.clear:
            self.clear_filter()
        elif not self.index.filter.is_active and self.shown_statuses == set(STATUSES):
            self.filter_bar.close()
        self.focus_table()

    @on(StatusToggle.Clicked)
    def _toggle_clicked(self, message: StatusToggle.Clicked) -> None:
        self.toggle_status(message.status)

    @on(OwnerChip.Cleared)
    def _owner_cleared(self, message: OwnerChip.Cleared) -> None:
        self.filter_owner(None)

    @on(TabbedContent.TabActivated)
    def _tab_activated(self, event: TabbedContent.TabActivated) -> None:
        self._refresh_active()

    @on(JobTable.PositionRequested)
    def _position_requested(self, event: JobTable.PositionRequested) -> None:
        event.stop()
        if event.table is not self.active_table:
            return
        self._refresh_active(around=event.position)
        event.table.move_to_position(event.position)

    @on(JobTable.RowSelected)
    def _row_selected(self, event: JobTable.RowSelected) -> None:
        event.stop()
        self.post_message(self.JobSelected(event.job_id))
