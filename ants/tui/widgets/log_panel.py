"""The log panel: Python logging output, and the node's recent events."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import RichLog, TabbedContent, TabPane

from ants.node.snapshot import NodeEvent, NodeSnapshot
from ants.tui.formatting import format_clock
from ants.tui.logbuffer import LogLine
from ants.tui.palette import palette
from ants.tui.ring import items_after

EVENTS_INTERVAL = 1.0
"""Seconds between writes of new node events to the Events tab."""
MAX_LINES = 2000
"""Lines each log keeps; older lines scroll away."""
MIN_LINE_WIDTH = 20
"""Narrowest width, in cells, that log lines wrap at."""
SCROLLBAR_WIDTH = 1
"""Cells the logs' vertical scrollbar takes, as set in LogPanel's CSS."""


class LogPanel(Vertical):
    """Tabs "Log" (records of every logger, the user's included) and "Events".

    Events come from `snapshot.events`, the node's ring buffer, so the tab
    shows what happened before the dashboard attached as well as after.
    """

    DEFAULT_CSS = """
    LogPanel {
        height: 1fr;
        border: round $primary 50%;
        border-title-color: $text;
    }
    LogPanel:focus-within {
        border: round $primary;
    }
    LogPanel.-has-errors {
        border-subtitle-color: $error;
    }
    LogPanel TabbedContent {
        height: 1fr;
    }
    LogPanel TabPane {
        padding: 0;
    }
    LogPanel RichLog {
        height: 1fr;
        background: $surface;
        scrollbar-size-vertical: 1;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.border_title = "Log"
        self._last_event: NodeEvent | None = None
        self._events_shown_at = -EVENTS_INTERVAL
        self._errors = 0
        self.plain_lines: list[str] = []
        """Plain text of the log lines written, newest last, bounded like the widget."""

    def compose(self) -> ComposeResult:
        with TabbedContent(id="log-tabs"):
            with TabPane("Log", id="log-pane"):
                yield RichLog(
                    id="log", max_lines=MAX_LINES, wrap=True, min_width=MIN_LINE_WIDTH
                )
            with TabPane("Events", id="events-pane"):
                yield RichLog(
                    id="events",
                    max_lines=MAX_LINES,
                    wrap=True,
                    min_width=MIN_LINE_WIDTH,
                )

    @property
    def log_view(self) -> RichLog:
        return self.query_one("#log", RichLog)

    @property
    def events_view(self) -> RichLog:
        return self.query_one("#events", RichLog)

    def focus_log(self) -> None:
        active = self.query_one(TabbedContent).active
        view = self.events_view if active == "events-pane" else self.log_view
        view.focus()

    def write_records(self, lines: Iterable[LogLine], dropped: int = 0) -> None:
        """Append log records, coloured by level; note how many were dropped."""
        colours = palette(self.app)
        if dropped:
            self._write(
                f"… {dropped} log records dropped: they came faster than shown",
                colours.warning,
            )
        for line in lines:
            style = ""
            if line.level >= logging.ERROR:
                style = colours.error
                self._errors += 1
            elif line.level >= logging.WARNING:
                style = colours.warning
            elif line.level < logging.INFO:
                style = "dim"
            self._write(line.text, style)
        if self._errors:
            self.border_subtitle = f"{self._errors} errors"
            self.add_class("-has-errors")

    def write_notice(self, text: str, severity: str) -> None:
        """Append a notification shown to the user, so it outlives the toast."""
        colours = palette(self.app)
        style = {"error": colours.error, "warning": colours.warning}.get(
            severity, colours.accent
        )
        prefix = "" if severity == "information" else f"{severity}: "
        self._write(prefix + text, f"bold {style}")

    def write_block(self, text: str, severity: str = "error") -> None:
        """Append a multi-line text, such as a traceback."""
        colours = palette(self.app)
        style = colours.error if severity == "error" else ""
        self._write(text.rstrip("\n"), style)

    def apply_snapshot(self, snapshot: NodeSnapshot) -> None:
        """Append the node events that are newer than the last one shown.

        At most once per EVENTS_INTERVAL, because each write to a log lays out
        the whole screen again.
        """
        now = time.monotonic()
        if now - self._events_shown_at < EVENTS_INTERVAL:
            return
        self._events_shown_at = now
        events = items_after(snapshot.events, self._last_event)
        if not events:
            return
        self._last_event = events[-1]
        colours = palette(self.app)
        styles = {
            "reload": colours.accent,
            "requeue": colours.warning,
            "hook": colours.error,
            "node": colours.primary,
        }
        view = self.events_view
        width = self._line_width()
        for event in events[-MAX_LINES:]:
            line = Text(f"{format_clock(event.time)} ", style="dim")
            line.append(f"{event.kind:<8}", style=styles.get(event.kind, ""))
            line.append(event.text)
            view.write(line, width=width)

    def _line_width(self) -> int | None:
        """Return the width to wrap lines at, the same for the tab not shown.

        A RichLog in a hidden tab has no width of its own and would wrap at
        its minimum width, 20 cells, for good.
        """
        width = self.content_region.width - SCROLLBAR_WIDTH
        return width if width >= MIN_LINE_WIDTH else None

    def _write(self, text: str, style: str) -> None:
        view = self.log_view
        width = self._line_width()
        for part in text.splitlines() or [""]:
            view.write(Text(part, style=style), width=width)
            self.plain_lines.append(part)
        if len(self.plain_lines) > MAX_LINES:
            del self.plain_lines[: len(self.plain_lines) - MAX_LINES]
