"""Gossip traffic: bytes per second over the last minute and the latest exchanges."""

from __future__ import annotations

import time
from collections import deque

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Sparkline, Static

from ants.node.snapshot import NodeSnapshot, TrafficEvent
from ants.tui.cells import KeyedText, sort_key_of
from ants.tui.formatting import (
    format_bytes,
    format_clock,
    format_duration,
    short_id,
    truncate,
)
from ants.tui.palette import palette
from ants.tui.ring import items_after

WINDOW = 60
"""Seconds of rates shown in the sparkline and averaged in the totals."""

ROWS_KEPT = 50
"""Exchanges listed in the table, newest first."""

COLUMNS = (
    ("time", "time"),
    ("peer", "peer"),
    ("out", "sent"),
    ("in", "received"),
    ("took", "took"),
    ("error", "error"),
)
"""Column keys and labels. The peer cell starts with → for an exchange this
node started and ← for one the peer started; sizes are bytes/records."""


def bytes_per_second(
    rates: tuple[tuple[float, int, int, int, int], ...],
    now: float,
    window: int = WINDOW,
) -> list[float]:
    """Return bytes in+out for each of the last `window` seconds, oldest first.

    Seconds with no exchange are zero, so the list always has `window` items.
    """
    last = int(now)
    series = [0.0] * window
    for second, bytes_out, bytes_in, _, _ in rates:
        index = window - 1 - (last - int(second))
        if 0 <= index < window:
            series[index] += bytes_out + bytes_in
    return series


def window_totals(
    rates: tuple[tuple[float, int, int, int, int], ...],
    now: float,
    window: int = WINDOW,
) -> tuple[int, int, int, int]:
    """Sum (bytes_out, bytes_in, records_out, records_in) over `window` seconds."""
    totals = [0, 0, 0, 0]
    for second, *values in rates:
        if now - second <= window:
            for index, value in enumerate(values):
                totals[index] += value
    return totals[0], totals[1], totals[2], totals[3]


class TrafficPanel(Vertical):
    """Rates from `snapshot.rates` as a sparkline and averages, then the exchanges."""

    DEFAULT_CSS = """
    TrafficPanel {
        height: 1fr;
        border: round $primary 50%;
        border-title-color: $text;
    }
    TrafficPanel:focus-within {
        border: round $primary;
    }
    TrafficPanel.-errors {
        border-subtitle-color: $error;
    }
    TrafficPanel #traffic-rates {
        height: auto;
        padding: 0 1;
        color: $text-muted;
    }
    TrafficPanel Sparkline {
        height: 2;
        margin: 0 1;
    }
    TrafficPanel Sparkline > .sparkline--max-color {
        color: $accent;
    }
    TrafficPanel Sparkline > .sparkline--min-color {
        color: $primary 50%;
    }
    TrafficPanel DataTable {
        height: 1fr;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.border_title = "Gossip traffic"
        self._last_event: TrafficEvent | None = None
        self._next_key = 0
        self._keys: deque[int] = deque()

    def compose(self) -> ComposeResult:
        yield Static("no exchanges yet", id="traffic-rates")
        yield Sparkline([0.0] * WINDOW, id="traffic-sparkline")
        yield DataTable(id="traffic-table", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for key, label in COLUMNS:
            table.add_column(label, key=key)

    @property
    def table(self) -> DataTable:
        return self.query_one("#traffic-table", DataTable)

    def apply_snapshot(self, snapshot: NodeSnapshot, now: float | None = None) -> None:
        now = time.time() if now is None else now
        self.query_one(Sparkline).data = bytes_per_second(snapshot.rates, now)
        self._show_totals(snapshot, now)
        self._add_exchanges(snapshot.traffic)

    def _show_totals(self, snapshot: NodeSnapshot, now: float) -> None:
        bytes_out, bytes_in, records_out, records_in = window_totals(
            snapshot.rates, now
        )
        # Average over the time the node has run when that is under a minute.
        seconds = max(1.0, min(float(WINDOW), snapshot.uptime))
        recent = [event for event in snapshot.traffic if now - event.time <= WINDOW]
        errors = sum(1 for event in recent if event.error)
        text = (
            f"in {format_bytes(bytes_in / seconds)}/s {records_in / seconds:.0f} rec/s"
            f" · out {format_bytes(bytes_out / seconds)}/s"
            f" {records_out / seconds:.0f} rec/s"
        )
        self.query_one("#traffic-rates", Static).update(Text(text))
        subtitle = f"{len(recent) / seconds:.1f} exchanges/s"
        if errors:
            subtitle += f" · {errors} failed"
        self.border_subtitle = subtitle
        self.set_class(errors > 0, "-errors")

    def _add_exchanges(self, traffic: tuple[TrafficEvent, ...]) -> None:
        new = items_after(traffic, self._last_event)[-ROWS_KEPT:]
        if not new:
            return
        self._last_event = new[-1]
        table = self.table
        colours = palette(self.app)
        with self.app.batch_update():
            for event in new:
                self._next_key += 1
                self._keys.append(self._next_key)
                cells = _cells(event, self._next_key, colours.error)
                table.add_row(*cells, key=str(self._next_key))
            while len(self._keys) > ROWS_KEPT:
                table.remove_row(str(self._keys.popleft()))
            table.sort("time", key=sort_key_of)


def _cells(event: TrafficEvent, sequence: int, error_colour: str) -> tuple:
    error = (
        Text(truncate(event.error, 40), style=error_colour) if event.error else Text("")
    )
    arrow = "→" if event.direction == "out" else "←"
    peer = short_id(event.peer_id) if event.peer_id else event.peer
    return (
        KeyedText(format_clock(event.time), -sequence),
        Text(f"{arrow} {peer}"),
        Text(f"{format_bytes(event.bytes_out, compact=True)}/{event.records_out}"),
        Text(f"{format_bytes(event.bytes_in, compact=True)}/{event.records_in}"),
        Text(format_duration(event.duration)),
        error,
    )
