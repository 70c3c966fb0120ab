"""A modal yes-or-no question asked before an action that changes the cluster."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static


class ConfirmModal(ModalScreen[bool]):
    """Asks `question`; dismisses with True for yes and False for no or escape.

    The No button has the focus at first, so an unthinking enter changes
    nothing.

    Args:
        question: One line naming the action and its target.
        detail: What the action does, shown under the question.
        confirm_label: The text of the Yes button, such as "Cancel job".
    """

    DEFAULT_CSS = """
    ConfirmModal {
        align: center middle;
    }
    ConfirmModal > Vertical {
        width: 64;
        max-width: 95%;
        height: auto;
        border: thick $warning;
        background: $surface;
        padding: 1 2;
    }
    ConfirmModal #confirm-question {
        text-style: bold;
    }
    ConfirmModal #confirm-detail {
        color: $text-muted;
        margin: 1 0;
    }
    ConfirmModal Horizontal {
        height: auto;
        align-horizontal: right;
    }
    ConfirmModal Button {
        margin-left: 2;
    }
    """

    BINDINGS = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n", "answer(False)", "No"),
        Binding("escape", "answer(False)", "No", show=False),
    ]

    def __init__(self, question: str, detail: str, confirm_label: str) -> None:
        super().__init__()
        self.question = question
        self.detail = detail
        self.confirm_label = confirm_label

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = "Confirm"
            box.border_subtitle = "y yes · n or esc no"
            yield Static(Text(self.question), id="confirm-question")
            yield Static(Text(self.detail), id="confirm-detail")
            with Horizontal():
                yield Button(self.confirm_label, variant="warning", id="confirm-yes")
                yield Button("Keep it", variant="primary", id="confirm-no")

    def on_mount(self) -> None:
        self.query_one("#confirm-no", Button).focus()

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "confirm-yes")
