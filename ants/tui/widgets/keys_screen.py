"""A modal screen listing every key of the dashboard, grouped by where it works."""

from __future__ import annotations

import re
from collections.abc import Iterable

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.dom import DOMNode
from textual.screen import ModalScreen
from textual.widgets import Static

from ants.tui.widgets.add_job_modal import AddJobModal
from ants.tui.widgets.confirm_modal import ConfirmModal
from ants.tui.widgets.job_detail import JobDetailScreen

TABLE_KEYS = (
    ("↑ ↓ pgup pgdn home end", "Move the cursor in a table or log"),
    ("enter", "Show the job under the cursor"),
    ("tab / shift+tab", "Move the focus to the next or previous panel"),
    ("esc", "Close this screen, the job detail, a form or a question, or clear a filter"),
)
"""Keys that Textual's own widgets handle or that no ants binding describes."""

KEY_WIDTH = 15
"""Width of the key column in cells, the same in every section so they line up."""

SCREEN_HEADINGS = (
    (JobDetailScreen, "In the job detail"),
    (ConfirmModal, "In a confirmation"),
    (AddJobModal, "In the add-job form"),
)

KeySection = tuple[str, list[tuple[str, str]]]
"""A heading and its (key, description) rows."""


def key_display(app: App, binding: Binding) -> str:
    """Return how a key reads on the keys screen: "?", "[", "ctrl+s"."""
    if binding.key_display:
        return binding.key_display
    return re.sub(r"\^(\S)", r"ctrl+\1", app.get_key_display(binding))


def own_bindings(widget_class: type[DOMNode]) -> list[Binding]:
    """Return the bindings that ants classes declare on `widget_class`.

    Bindings inherited from Textual's widgets, such as a DataTable's cursor
    keys, are left out; TABLE_KEYS describes those.
    """
    found: list[Binding] = []
    for cls in reversed(widget_class.__mro__):
        if cls.__module__.startswith("ants.") and "BINDINGS" in cls.__dict__:
            found += [b for b in cls.__dict__["BINDINGS"] if isinstance(b, Binding)]
    return found


def key_rows(app: App, bindings: Iterable[Binding]) -> list[tuple[str, str]]:
    """Return (keys, description) rows, where keys with one description share
    a row, such as "n, esc" for No.

    Bindings without a description and those that close a screen are left out.
    """
    keys: dict[str, list[str]] = {}
    for binding in bindings:
        if binding.description and binding.action != "dismiss":
            description = binding.tooltip or binding.description
            keys.setdefault(description, []).append(key_display(app, binding))
    # Single keys come before combinations, as in "q, ctrl+q". The sort is
    # stable, so keys of one length keep their binding order.
    return [
        (", ".join(sorted(names, key=len)), description)
        for description, names in keys.items()
    ]


def _words(class_name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", " ", class_name).lower()


def key_sections(app: App, root: DOMNode) -> list[KeySection]:
    """Return the keys of the widgets under `root` and of the dashboard's screens."""
    sections: list[KeySection] = []
    seen: set[type] = set()
    for widget in root.walk_children():
        widget_class = type(widget)
        if widget_class in seen:
            continue
        seen.add(widget_class)
        rows = key_rows(app, own_bindings(widget_class))
        if rows:
            sections.append(
                (f"When the {_words(widget_class.__name__)} has focus", rows)
            )
    for screen_class, heading in SCREEN_HEADINGS:
        rows = key_rows(app, own_bindings(screen_class))
        if rows:
            sections.append((heading, rows))
    return sections


class KeysScreen(ModalScreen[None]):
    """The app's key bindings, the keys of each panel and screen, and table keys.

    Args:
        bindings: (key, description) of the app-wide bindings.
        sections: Headings with the keys that work in one panel or screen.
    """

    DEFAULT_CSS = """
    KeysScreen {
        align: center middle;
    }
    KeysScreen > VerticalScroll {
        width: 84;
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

    def __init__(
        self,
        bindings: list[tuple[str, str]],
        sections: list[KeySection] | None = None,
    ) -> None:
        super().__init__()
        self.bindings = bindings
        self.sections = sections or []

    def all_keys(self) -> dict[str, list[str]]:
        """Return each listed key with its descriptions, from every section."""
        keys: dict[str, list[str]] = {}
        rows = [*self.bindings, *TABLE_KEYS]
        for _, section_rows in self.sections:
            rows += section_rows
        for key, description in rows:
            keys.setdefault(key, []).append(description)
        return keys

    def compose(self) -> ComposeResult:
        parts: list[RenderableType] = [_grid(self.bindings)]
        for heading, rows in [*self.sections, ("Tables and screens", TABLE_KEYS)]:
            parts += [Text(""), Text(heading, style="bold underline"), _grid(rows)]
        with VerticalScroll() as scroll:
            scroll.border_title = "Keys"
            scroll.border_subtitle = "esc closes"
            yield Static(Group(*parts))


def _grid(rows: Iterable[tuple[str, str]]) -> Table:
    table = Table.grid(padding=(0, 3))
    table.add_column(style="bold", no_wrap=True, min_width=KEY_WIDTH)
    table.add_column()
    for key, description in rows:
        table.add_row(Text(key), Text(description))
    return table
