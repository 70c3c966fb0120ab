"""The jobs panel's filter bar: a text filter, status toggles and an owner filter."""

from __future__ import annotations

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Input, Static

from ants.node.job import JobStatus
from ants.tui.formatting import short_id
from ants.tui.job_index import PROBLEM_ORDER

TOGGLE_KEYS = {
    JobStatus.FAILED: "F",
    JobStatus.ASSIGNED: "A",
    JobStatus.PENDING: "P",
    JobStatus.DONE: "D",
}
"""The key that turns each status on or off in the All tab, on the jobs panel."""


class StatusToggle(Static):
    """A clickable "[x] failed" that turns a status on or off in the All tab."""

    DEFAULT_CSS = """
    StatusToggle {
        width: auto;
        padding: 0 1;
        color: $text-muted;
    }
    StatusToggle.-on {
        color: $text;
        text-style: bold;
    }
    StatusToggle:hover {
        background: $boost;
    }
    """

    class Clicked(Message):
        def __init__(self, status: JobStatus) -> None:
            super().__init__()
            self.status = status

    def __init__(self, status: JobStatus) -> None:
        super().__init__(id=f"toggle-{status.name.lower()}")
        self.status = status

    def show_state(self, on: bool) -> None:
        mark = "x" if on else " "
        key = TOGGLE_KEYS[self.status]
        self.update(Text(f"[{mark}] {self.status.name.lower()} ({key})"))
        self.set_class(on, "-on")

    def on_click(self, event: events.Click) -> None:
        event.stop()
        self.post_message(self.Clicked(self.status))


class OwnerChip(Static):
    """The owner filter, "owner 3fa2c1d0 ✕"; a click clears it."""

    DEFAULT_CSS = """
    OwnerChip {
        width: auto;
        padding: 0 1;
        background: $accent 30%;
        display: none;
    }
    OwnerChip.-set {
        display: block;
    }
    """

    class Cleared(Message):
        """The chip was clicked to clear the owner filter."""

    def show_owner(self, owner: str | None) -> None:
        self.set_class(owner is not None, "-set")
        self.update(Text(f"owner {short_id(owner)} ✕") if owner is not None else "")

    def on_click(self, event: events.Click) -> None:
        event.stop()
        self.post_message(self.Cleared())


class FilterInput(Input):
    """The text filter. Enter keeps it and escape clears it, and both return
    to the table."""

    BINDINGS = [
        Binding("escape", "close(True)", "Clear filter", show=False),
        Binding("enter", "close(False)", "Keep filter", show=False),
    ]

    class Closed(Message):
        """Enter or escape was pressed in the input."""

        def __init__(self, clear: bool) -> None:
            super().__init__()
            self.clear = clear

    def action_close(self, clear: bool) -> None:
        self.post_message(self.Closed(clear))


class JobFilterBar(Horizontal):
    """A one-line bar above the job tabs, shown while any filter differs from
    the default or the input has the focus."""

    DEFAULT_CSS = """
    JobFilterBar {
        height: 1;
        display: none;
    }
    JobFilterBar.-open {
        display: block;
    }
    JobFilterBar > #job-filter-prompt {
        width: 2;
        color: $accent;
    }
    JobFilterBar > FilterInput {
        width: 1fr;
        min-width: 12;
    }
    """

    class TextChanged(Message):
        """The filter text changed."""

        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    def compose(self) -> ComposeResult:
        yield Static("/", id="job-filter-prompt")
        yield FilterInput(
            placeholder="name, payload, owner or id",
            id="job-filter-input",
            compact=True,
            select_on_focus=False,
        )
        for status in PROBLEM_ORDER:
            yield StatusToggle(status)
        yield OwnerChip(id="job-filter-owner")

    @property
    def input(self) -> FilterInput:
        return self.query_one(FilterInput)

    def show_filter(self, shown: set[JobStatus], owner: str | None) -> None:
        """Show which statuses are on and which owner, if any, is filtered on."""
        for toggle in self.query(StatusToggle):
            toggle.show_state(toggle.status in shown)
        self.query_one(OwnerChip).show_owner(owner)

    def open(self, focus: bool) -> None:
        self.add_class("-open")
        if focus:
            self.input.focus()

    def close(self) -> None:
        self.remove_class("-open")

    @on(Input.Changed)
    def _text_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.post_message(self.TextChanged(event.value))
