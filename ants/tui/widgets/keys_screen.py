"""A modal screen listing the key bindings of the dashboard."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

TABLE_KEYS = (
    ("↑ ↓ pgup pgdn", "Move the cursor in a table or log"),
    ("enter", "Show the job under the cursor"),
    ("tab / shift+tab", "Move the focus to the next or previous panel"),
    ("[ ]", "Previous or next jobs tab, when the jobs panel has the focus"),
    ("/", "Filter the jobs by name, payload, owner or id"),
    ("F A P D", "Show or hide failed, assigned, pending or done jobs in the All tab"),
    ("s", "Sort the jobs problems first or newest first"),
    ("e", "Export the jobs in the current filter and order to CSV or JSON Lines"),
    ("enter on a peer", "Show only the jobs that peer owns"),
    ("esc", "Close this screen or the job detail, or clear the jobs filter"),
)


class KeysScreen(ModalScreen[None]):
    """The active key bindings with their descriptions, and the table keys."""

    DEFAULT_CSS = """
    KeysScreen {
        align: center middle;
    }
    KeysScreen > VerticalScroll {
        width: 76;
        max-width: 95%;
        height: auto;
        max-height: 90%;
        border: thick $primary;
        background: $surface;
        padding: 0 2;
    }
    KeysScreen Static {
        width: 1fr;
        height: auto;
    }
    """

    BINDINGS = [
        Binding("escape", "dismiss", "Close"),
        Binding("question_mark", "dismiss", "Close", show=False),
    ]

    def __init__(self, bindings: list[tuple[str, str]]) -> None:
        super().__init__()
        self.bindings = bindings

    def compose(self) -> ComposeResult:
        table = Table.grid(padding=(0, 3))
        table.add_column(style="bold", no_wrap=True)
        table.add_column()
        for key, description in [*self.bindings, *TABLE_KEYS]:
            table.add_row(Text(key), Text(description))
        with VerticalScroll() as scroll:
            scroll.border_title = "Keys"
            scroll.border_subtitle = "esc closes"
            yield Static(table)
