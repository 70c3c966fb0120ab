"""A modal screen with every field of one job, updated while it is open."""

from __future__ import annotations

import io
from collections.abc import Callable

from rich.console import Console, Group, RenderableType
from rich.pretty import Pretty
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from ants.node.history import TRANSITIONS_PER_JOB
from ants.node.job import JobRecord, JobStatus
from ants.node.snapshot import JobTransition
from ants.tui.formatting import (
    app_clock,
    format_datetime,
    format_duration,
    last_line,
    short_id,
)
from ants.tui.palette import palette


class JobDetailScreen(ModalScreen[None]):
    """Id, name, payload, status, owner, attempts, error, result, times and
    the history of a job.

    The app passes newer versions of the record with `update_record` while
    the screen is open; `record` is None once the job was purged. The
    history is read again from `history` on each update.
    """

    DEFAULT_CSS = """
    JobDetailScreen {
        align: center middle;
    }
    JobDetailScreen > VerticalScroll {
        width: 90%;
        max-width: 120;
        height: 85%;
        border: thick $primary;
        background: $surface;
        padding: 0 1;
    }
    JobDetailScreen.-failed > VerticalScroll {
        border: thick $error;
    }
    JobDetailScreen.-done > VerticalScroll {
        border: thick $success;
    }
    JobDetailScreen #job-detail-body {
        width: 1fr;
        height: auto;
    }
    """

    BINDINGS = [
        Binding("escape", "dismiss", "Close"),
        Binding("enter", "dismiss", "Close", show=False),
        # The app carries out the operator actions, on this screen's job.
        Binding("t", "app.retry_job", "Retry failed job"),
        Binding("u", "app.requeue_job", "Re-queue assigned job"),
        Binding("c", "app.cancel_job", "Cancel pending job"),
    ]

    def __init__(
        self,
        job_id: str,
        record: JobRecord | None,
        self_id: str,
        history: Callable[[str], tuple[JobTransition, ...]] | None = None,
    ) -> None:
        super().__init__()
        self.job_id = job_id
        self.record = record
        self.self_id = self_id
        self._read_history = history
        self.transitions = self._history()
        """The job's state changes as this node saw them, oldest first."""

    def compose(self) -> ComposeResult:
        with VerticalScroll() as scroll:
            scroll.border_title = f"Job {self.job_id[:12]}"
            scroll.border_subtitle = "t retry · u re-queue · c cancel · esc closes"
            yield Static(id="job-detail-body")

    def on_mount(self) -> None:
        self._render_record()

    def update_record(self, record: JobRecord | None) -> None:
        transitions = self._history()
        if record != self.record or transitions != self.transitions:
            self.record = record
            self.transitions = transitions
            self._render_record()

    def _history(self) -> tuple[JobTransition, ...]:
        if self._read_history is None:
            return ()
        return self._read_history(self.job_id)

    def body_text(self) -> str:
        """Return the detail as plain text, 100 columns wide."""
        console = Console(width=100, file=io.StringIO(), record=True)
        console.print(self._body())
        return console.export_text()

    def _render_record(self) -> None:
        record = self.record
        status = record.status if record is not None else None
        self.set_class(status is JobStatus.FAILED, "-failed")
        self.set_class(status is JobStatus.DONE, "-done")
        self.query_one("#job-detail-body", Static).update(self._body())

    def _body(self) -> RenderableType:
        record = self.record
        if record is None:
            return Text(
                f"Job {self.job_id} is no longer in the state: it was purged "
                "after its done_ttl expired."
            )
        colours = palette(self.app)
        status_styles = {
            JobStatus.DONE: colours.success,
            JobStatus.FAILED: colours.error,
            JobStatus.ASSIGNED: colours.primary,
        }
        fields = Table.grid(padding=(0, 2))
        fields.add_column(style="dim", no_wrap=True)
        fields.add_column()
        fields.add_row("id", record.id)
        fields.add_row("name", Text(record.name))
        fields.add_row(
            "status",
            Text(
                record.status.name.lower(),
                style=f"bold {status_styles.get(record.status, '')}",
            ),
        )
        owner = record.owner or "-"
        if record.owner == self.self_id:
            owner += " (this node)"
        fields.add_row("owner", owner)
        fields.add_row("attempt", f"{record.attempt + 1} of {record.max_attempts}")
        fields.add_row("creator", record.creator or "-")
        fields.add_row("created", _time_and_age(record.created, app_clock(self.app)))
        fields.add_row("finished", _time_and_age(record.finished, app_clock(self.app)))
        if record.finished is not None:
            fields.add_row("took", format_duration(record.finished - record.created))
        if record.timeout is not None:
            fields.add_row("timeout", format_duration(record.timeout))

        parts: list[RenderableType] = [fields, Text("")]
        parts += [
            Text("payload", style="bold"),
            Pretty(record.payload, expand_all=True),
        ]
        if record.status is JobStatus.DONE or record.result is not None:
            parts += [
                Text(""),
                Text("result", style="bold"),
                Pretty(record.result, expand_all=True),
            ]
        if record.error:
            heading = "error" if record.status is JobStatus.FAILED else "last error"
            parts += [
                Text(""),
                Text(heading, style=f"bold {colours.error}"),
                Text(record.error, style=colours.error),
            ]
        heading = "history on this node"
        if len(self.transitions) >= TRANSITIONS_PER_JOB:
            heading += f" (the latest {TRANSITIONS_PER_JOB} changes)"
        parts += [Text(""), Text(heading, style="bold")]
        parts.append(self._history_table(status_styles))
        return Group(*parts)

    def _history_table(self, status_styles: dict[JobStatus, str]) -> RenderableType:
        if not self.transitions:
            return Text("no changes seen yet", style="dim")
        table = Table(box=None, padding=(0, 2, 0, 0), show_edge=False)
        for column in ("time", "status", "attempt", "owner", "reason"):
            table.add_column(column, style="" if column != "time" else "dim")
        for entry in self.transitions:
            owner = short_id(entry.owner)
            if entry.owner is not None and entry.owner == self.self_id:
                owner += " (this node)"
            table.add_row(
                format_datetime(entry.time),
                Text(
                    entry.status.name.lower(),
                    style=status_styles.get(entry.status, ""),
                ),
                str(entry.attempt + 1),
                owner,
                Text(last_line(entry.reason) if entry.reason else ""),
            )
        return table


def _time_and_age(timestamp: float | None, now: float) -> str:
    if timestamp is None:
        return "-"
    return f"{format_datetime(timestamp)} ({format_duration(now - timestamp)} ago)"
