"""A small modal for choosing the format and folder of a job export."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from ants.tui.export import ExportFormat

CHOICES = {
    "csv": (ExportFormat.CSV,),
    "jsonl": (ExportFormat.JSON_LINES,),
    "both": (ExportFormat.CSV, ExportFormat.JSON_LINES),
}
"""Option id -> the formats it writes."""


class ExportScreen(ModalScreen[tuple[tuple[ExportFormat, ...], Path] | None]):
    """Choose CSV, JSON Lines or both, and the folder; dismisses with the
    formats and folder, or None when cancelled."""

    DEFAULT_CSS = """
    ExportScreen {
        align: center middle;
    }
    ExportScreen > Vertical {
        width: 64;
        max-width: 95%;
        height: auto;
        border: thick $primary;
        background: $surface;
        padding: 0 1;
    }
    ExportScreen OptionList {
        height: auto;
        margin-bottom: 1;
    }
    ExportScreen Static {
        width: 1fr;
    }
    """

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, folder: Path, count: int) -> None:
        super().__init__()
        self.folder = folder
        self.count = count

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = "Export jobs"
            box.border_subtitle = "enter exports · esc cancels"
            yield Static(Text(f"{self.count} job(s), in the panel's filter and order."))
            yield OptionList(
                Option("CSV", id="csv"),
                Option("JSON Lines", id="jsonl"),
                Option("CSV and JSON Lines", id="both"),
                id="export-format",
            )
            yield Static(Text("Folder", style="dim"))
            yield Input(str(self.folder), id="export-folder", compact=True)

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        options.highlighted = 0
        options.focus()

    @on(OptionList.OptionSelected)
    def _format_chosen(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self._finish(event.option.id or "both")

    @on(Input.Submitted, "#export-folder")
    def _folder_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        highlighted = self.query_one(OptionList).highlighted_option
        self._finish(highlighted.id if highlighted is not None else "both")

    def _finish(self, choice: str) -> None:
        text = self.query_one("#export-folder", Input).value.strip()
        folder = Path(text).expanduser() if text else self.folder
        self.dismiss((CHOICES[choice], folder))
