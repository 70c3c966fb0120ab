"""A form that creates a job from a name, a JSON payload and optional limits."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from concurrent.futures import Future

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static, TextArea

from ants.errors import AntsError, JobError
from ants.node.job import Job

NODE_ANSWER_TIMEOUT = 5.0
"""Seconds the form, and each job action, wait for the node to carry out a request."""


class JobFormError(JobError):
    """An invalid value in the add-job form; `field` is the id of its widget."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def parse_job_form(
    name: str, payload_text: str, max_attempts_text: str = "", timeout_text: str = ""
) -> Job:
    """Build a Job from the form's texts, or raise JobFormError naming the field.

    A blank payload is None, blank max attempts take the node's default, and
    a blank timeout means none.
    """
    name = name.strip()
    if not name:
        raise JobFormError("job-name", "name is missing: enter the job's name")

    payload = None
    if payload_text.strip():
        try:
            payload = json.loads(payload_text)
        except json.JSONDecodeError as exc:
            raise JobFormError(
                "job-payload",
                f"payload is not valid JSON: {exc.msg} at line {exc.lineno}, "
                f"column {exc.colno}",
            ) from exc

    max_attempts = None
    if max_attempts_text.strip():
        try:
            max_attempts = int(max_attempts_text)
        except ValueError:
            max_attempts = 0
        if max_attempts < 1:
            raise JobFormError(
                "job-max-attempts",
                f"max attempts must be a whole number of 1 or more, "
                f"got {max_attempts_text.strip()!r}",
            )

    timeout = None
    if timeout_text.strip():
        try:
            timeout = float(timeout_text)
        except ValueError:
            timeout = 0.0
        if not timeout > 0 or timeout == float("inf"):
            raise JobFormError(
                "job-timeout",
                f"timeout must be a positive number of seconds, "
                f"got {timeout_text.strip()!r}",
            )

    try:
        return Job(name, payload, max_attempts=max_attempts, timeout=timeout)
    except JobError as exc:
        # The payload and the name are the only values Job still checks here.
        field = "job-name" if str(exc).startswith("job name") else "job-payload"
        raise JobFormError(field, str(exc)) from exc


class AddJobModal(ModalScreen[str | None]):
    """Asks for a job and adds it with `submit`; dismisses with the new job's id.

    An invalid value, or a job the node rejects, shows its error in the form
    and keeps the form open. Escape or Cancel dismisses with None.

    Args:
        submit: Sends a job to the node and returns a future of its id,
            such as `node.runtime.create_job` with the actor bound.
    """

    DEFAULT_CSS = """
    AddJobModal {
        align: center middle;
    }
    AddJobModal > VerticalScroll {
        width: 76;
        max-width: 95%;
        height: auto;
        max-height: 95%;
        border: thick $primary;
        background: $surface;
        padding: 0 2;
    }
    AddJobModal Label {
        margin-top: 1;
        color: $text-muted;
    }
    AddJobModal TextArea {
        height: 6;
    }
    AddJobModal #job-limits {
        height: auto;
    }
    AddJobModal #job-limits > Vertical {
        width: 1fr;
        height: auto;
    }
    AddJobModal #job-form-error {
        display: none;
        color: $error;
        text-style: bold;
        margin-top: 1;
    }
    AddJobModal.-error #job-form-error {
        display: block;
    }
    AddJobModal #job-buttons {
        height: auto;
        align-horizontal: right;
        margin: 1 0;
    }
    AddJobModal Button {
        margin-left: 2;
    }
    """

    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "add", "Add the job"),
    ]

    def __init__(self, submit: Callable[[Job], Future]) -> None:
        super().__init__()
        self.submit = submit
        self.error_text = ""
        """The message shown in the form, empty while every value is valid."""
        self._busy = False

    def compose(self) -> ComposeResult:
        # The form scrolls in terminals too short for all of it.
        with VerticalScroll() as box:
            box.border_title = "Add a job"
            box.border_subtitle = "ctrl+s adds · esc cancels"
            yield Label("name")
            yield Input(placeholder="for example: resize", id="job-name")
            yield Label("payload, as JSON (blank for none)")
            yield TextArea(
                "",
                id="job-payload",
                show_line_numbers=False,
                placeholder='JSON, for example {"n": 1}; leave empty for no payload',
            )
            with Horizontal(id="job-limits"):
                with Vertical():
                    yield Label("max attempts (blank: node default)")
                    yield Input(id="job-max-attempts", type="integer")
                with Vertical():
                    yield Label("timeout, seconds (blank: none)")
                    yield Input(id="job-timeout", type="number")
            yield Static(id="job-form-error")
            with Horizontal(id="job-buttons"):
                yield Button("Add job", variant="primary", id="job-add")
                yield Button("Cancel", id="job-cancel")

    def on_mount(self) -> None:
        self.query_one("#job-name", Input).focus()

    def show_error(self, message: str, field: str | None = None) -> None:
        """Show `message` under the fields and move the focus to `field`."""
        self.error_text = message
        self.query_one("#job-form-error", Static).update(Text(message))
        self.set_class(bool(message), "-error")
        if field is not None:
            self.query_one(f"#{field}").focus()
        if message:
            self.call_after_refresh(self.query_one("#job-form-error").scroll_visible)

    def action_cancel(self) -> None:
        self.dismiss(None)

    async def action_add(self) -> None:
        if self._busy:
            return
        try:
            job = parse_job_form(
                self.query_one("#job-name", Input).value,
                self.query_one("#job-payload", TextArea).text,
                self.query_one("#job-max-attempts", Input).value,
                self.query_one("#job-timeout", Input).value,
            )
        except JobFormError as exc:
            self.show_error(str(exc), exc.field)
            return
        self._busy = True
        try:
            job_id = await asyncio.wait_for(
                asyncio.wrap_future(self.submit(job)), NODE_ANSWER_TIMEOUT
            )
        except TimeoutError:
            # NOTE: the request stays queued, so a node that is only slow may
            # still add the job later.
            self.show_error(
                f"the node did not answer within {NODE_ANSWER_TIMEOUT:g}s; "
                "check the log panel and try again"
            )
            return
        except Exception as exc:
            # A rejected job, such as one that exists already, raises AntsError.
            # The node logged any other failure, and the form shows both kinds.
            field = "job-name" if isinstance(exc, AntsError) else None
            self.show_error(str(exc), field)
            return
        finally:
            self._busy = False
        self.dismiss(job_id)

    @on(Input.Submitted)
    async def _input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        await self.action_add()

    @on(Button.Pressed, "#job-add")
    async def _add_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        await self.action_add()

    @on(Button.Pressed, "#job-cancel")
    def _cancel_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_cancel()
