"""Jobs split by status into tabs whose labels carry the counts."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, TabbedContent, TabPane

from ants.node.job import JobStatus
from ants.node.snapshot import NodeSnapshot
from ants.tui.widgets.job_table import JobTable

STATUSES = (JobStatus.PENDING, JobStatus.ASSIGNED, JobStatus.DONE, JobStatus.FAILED)


def pane_id(status: JobStatus) -> str:
    return f"jobs-{status.name.lower()}"


def tab_label(status: JobStatus, count: int) -> str:
    """Return a tab label such as "Done (200)"."""
    return f"{status.name.capitalize()} ({count})"


class JobsPanel(Vertical):
    """Tabs Pending, Assigned, Done and Failed, each with a JobTable.

    Only the visible tab's table is refreshed on each snapshot; a tab is
    brought up to date when it is activated. Enter on a row posts
    `JobsPanel.JobSelected`.
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
    ]

    class JobSelected(Message):
        """Enter was pressed on a job row."""

        def __init__(self, job_id: str) -> None:
            super().__init__()
            self.job_id = job_id

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.border_title = "Jobs"
        self.snapshot: NodeSnapshot | None = None

    def compose(self) -> ComposeResult:
        with TabbedContent(id="jobs-tabs"):
            for status in STATUSES:
                with TabPane(tab_label(status, 0), id=pane_id(status)):
                    yield JobTable(status, id=f"{pane_id(status)}-table")

    @property
    def tabs(self) -> TabbedContent:
        return self.query_one("#jobs-tabs", TabbedContent)

    def table(self, status: JobStatus) -> JobTable:
        return self.query_one(f"#{pane_id(status)}-table", JobTable)

    @property
    def active_table(self) -> JobTable:
        active = self.tabs.active or pane_id(JobStatus.PENDING)
        return self.query_one(f"#{active}-table", JobTable)

    def selected_job_id(self) -> str | None:
        """Return the id of the job under the cursor of the visible tab, if any."""
        return self.active_table.selected_job_id()

    def tab_labels(self) -> dict[JobStatus, str]:
        """Return the current label text of every tab."""
        return {
            status: self.tabs.get_tab(pane_id(status)).label.plain
            for status in STATUSES
        }

    def show_status(self, status: JobStatus) -> None:
        """Activate the tab of `status`."""
        self.tabs.active = pane_id(status)

    def apply_snapshot(self, snapshot: NodeSnapshot) -> None:
        self.snapshot = snapshot
        for status in STATUSES:
            tab = self.tabs.get_tab(pane_id(status))
            label = tab_label(status, snapshot.count(status))
            if tab.label.plain != label:
                tab.label = label
        self._refresh_active()
        failed = snapshot.count(JobStatus.FAILED)
        self.set_class(failed > 0, "-has-failed")
        self.border_subtitle = f"{failed} failed" if failed else ""

    def _refresh_active(self) -> None:
        if self.snapshot is None:
            return
        table = self.active_table
        table.apply_records(self.snapshot.jobs, self.snapshot.node_id)
        name = table.status.name.lower()
        if table.total > table.shown:
            self.border_title = (
                f"Jobs · {name}: showing {table.shown} of {table.total} (newest first)"
            )
        else:
            self.border_title = f"Jobs · {name}"

    def focus_table(self) -> None:
        self.active_table.focus()

    def action_switch_tab(self, step: int) -> None:
        ids = [pane_id(status) for status in STATUSES]
        current = ids.index(self.tabs.active) if self.tabs.active in ids else 0
        self.tabs.active = ids[(current + step) % len(ids)]
        self.focus_table()

    @on(TabbedContent.TabActivated)
    def _tab_activated(self, event: TabbedContent.TabActivated) -> None:
        self._refresh_active()

    @on(DataTable.RowSelected)
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value is not None:
            self.post_message(self.JobSelected(event.row_key.value))
