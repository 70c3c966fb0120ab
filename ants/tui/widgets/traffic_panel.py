"""Gossip traffic: rates over the last minute and the latest exchanges, filterable."""

from __future__ import annotations

import time
from collections import deque

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Vertical
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import DataTable, Input, Sparkline

from ants.node.snapshot import NodeSnapshot, TrafficEvent
from ants.tui.cells import KeyedText, sort_key_of
from ants.tui.formatting import (
    format_bytes,
    format_clock,
    format_duration,
    short_id,
    truncate,
)
from ants.tui.palette import Palette, palette
from ants.tui.ring import items_after

WINDOW = 60
"""Seconds of rates shown in the sparklines and averaged in their labels."""

ROWS_KEPT = 50
"""Exchanges listed in the table, newest first."""

EVENTS_KEPT = 1000
"""Exchanges remembered for the filter, as many as a node's traffic ring buffer."""

COLUMNS = (
    ("time", "time"),
    ("peer", "peer"),
    ("out", "sent"),
    ("in", "recv"),
    ("took", "took"),
    ("note", "note"),
)
"""Column keys and labels. The peer cell starts with → for an exchange this
node started and ← for one the peer started; sizes are bytes/records. The
note is the error of a failed exchange, or the kind of a frame other than a
push-pull exchange, such as "leave"."""

RATE_SERIES = (
    ("bytes-in", 2, "in", True),
    ("bytes-out", 1, "out", True),
    ("records-in", 4, "in", False),
    ("records-out", 3, "out", False),
)
"""(widget id, index in a rates tuple, direction, is bytes) of each sparkline."""

DIRECTIONS = ("in", "out")
KINDS = ("exchange", "leave")


def per_second(
    rates: tuple[tuple[float, int, int, int, int], ...],
    now: float,
    index: int,
    window: int = WINDOW,
) -> list[float]:
    """Return field `index` of `rates` for each of the last `window` seconds.

    The list is oldest first, and seconds with no exchange are zero, so it
    always has `window` items. Index 1 is bytes out, 2 bytes in, 3 records
    out and 4 records in.
    """
    last = int(now)
    series = [0.0] * window
    for bucket in rates:
        position = window - 1 - (last - int(bucket[0]))
        if 0 <= position < window:
            series[position] += bucket[index]
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


def rate_label(direction: str, rate: float, is_bytes: bool) -> str:
    """Format a rate in at most 14 characters: "in 3.8kB/s", "out 12k rec/s"."""
    if is_bytes:
        return f"{direction} {format_bytes(rate).replace(' ', '')}/s"
    if rate < 1000:
        amount = f"{rate:.0f}"
    elif rate < 10_000:
        amount = f"{rate / 1000:.1f}k"
    else:
        amount = f"{rate / 1000:.0f}k"
    return f"{direction} {amount} rec/s"


def matches(event: TrafficEvent, terms: list[str]) -> bool:
    """Return whether `event` matches every lowercase term of a filter.

    The words "in" and "out" match the direction, "exchange" and "leave" the
    kind, and "error" any failed exchange. Any other term matches part of the
    peer's address, its node id or the error text.
    """
    for term in terms:
        if term in DIRECTIONS:
            if event.direction != term:
                return False
        elif term in KINDS:
            if event.kind != term:
                return False
        elif term == "error":
            if not event.error:
                return False
        elif not any(
            term in (text or "").lower()
            for text in (event.peer, event.peer_id, event.error)
        ):
            return False
    return True


class RateLabel(Widget):
    """One line of text in a fixed width: a new value repaints it without a layout pass."""

    DEFAULT_CSS = """
    RateLabel {
        height: 1;
    }
    """

    text: reactive[str] = reactive("")

    def render(self) -> Text:
        return Text(self.text)


class TrafficPanel(Vertical):
    """Sparklines of `snapshot.rates`, then the exchanges from `snapshot.traffic`.

    `f` or `/` opens a filter over the exchanges; it applies to the
    remembered exchanges at once and to new ones as they arrive.
    """

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
        grid-size: 4;
        grid-columns: 14 1fr 14 1fr;
        grid-gutter: 0 1;
        height: auto;
        padding: 0 1;
    }
    TrafficPanel #traffic-rates RateLabel {
        width: 100%;
        color: $text-muted;
        text-align: right;
    }
    TrafficPanel Sparkline > .sparkline--max-color {
        color: $accent;
    }
    TrafficPanel Sparkline > .sparkline--min-color {
        color: $primary 50%;
    }
    TrafficPanel #traffic-filter {
        display: none;
        height: 1;
        border: none;
        padding: 0 1;
    }
    TrafficPanel.-filtering #traffic-filter {
        display: block;
    }
    TrafficPanel DataTable {
        height: 1fr;
    }
    """

    BINDINGS = [
        Binding("f", "open_filter", "Filter exchanges"),
        Binding("slash", "open_filter", "Filter exchanges", show=False),
        Binding("escape", "clear_filter", "Clear the filter", show=False),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.border_title = "Gossip traffic"
        self.filter_terms: list[str] = []
        """Lowercase terms an exchange must all match to be listed."""
        self._events: deque[TrafficEvent] = deque(maxlen=EVENTS_KEPT)
        self._last_event: TrafficEvent | None = None
        self._next_key = 0
        self._keys: deque[int] = deque()
        self._rate_text = ""

    def compose(self) -> ComposeResult:
        with Grid(id="traffic-rates"):
            for widget_id, _, direction, is_bytes in RATE_SERIES:
                unit = "bytes" if is_bytes else "records"
                label = RateLabel(id=f"{widget_id}-label")
                label.tooltip = (
                    f"{unit} {'received' if direction == 'in' else 'sent'} per "
                    "second, averaged over the last minute; the sparkline shows "
                    "each second"
                )
                yield label
                yield Sparkline([0.0] * WINDOW, id=f"{widget_id}-sparkline")
        yield Input(
            placeholder="filter: peer, in, out, leave, error",
            id="traffic-filter",
        )
        yield DataTable(id="traffic-table", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        table = self.table
        for key, label in COLUMNS:
            table.add_column(label, key=key)
        self._show_rates((), 1.0, time.time())

    @property
    def table(self) -> DataTable:
        return self.query_one("#traffic-table", DataTable)

    @property
    def filter_input(self) -> Input:
        return self.query_one("#traffic-filter", Input)

    def apply_snapshot(self, snapshot: NodeSnapshot, now: float | None = None) -> None:
        now = time.time() if now is None else now
        # Average over the time the node has run when that is under a minute.
        seconds = max(1.0, min(float(WINDOW), snapshot.uptime))
        self._show_rates(snapshot.rates, seconds, now)
        self._show_subtitle(snapshot, seconds, now)
        self._add_exchanges(snapshot.traffic)

    # Rates

    def _show_rates(
        self,
        rates: tuple[tuple[float, int, int, int, int], ...],
        seconds: float,
        now: float,
    ) -> None:
        totals = window_totals(rates, now)
        for widget_id, index, direction, is_bytes in RATE_SERIES:
            self.query_one(f"#{widget_id}-sparkline", Sparkline).data = per_second(
                rates, now, index
            )
            rate = totals[index - 1] / seconds
            self.query_one(f"#{widget_id}-label", RateLabel).text = rate_label(
                direction, rate, is_bytes
            )

    def _show_subtitle(
        self, snapshot: NodeSnapshot, seconds: float, now: float
    ) -> None:
        recent = [event for event in snapshot.traffic if now - event.time <= WINDOW]
        errors = sum(1 for event in recent if event.error)
        self._rate_text = f"{len(recent) / seconds:.1f} exchanges/s"
        if errors:
            self._rate_text += f" · {errors} failed"
        self.set_class(errors > 0, "-errors")
        self._update_subtitle()

    def _update_subtitle(self) -> None:
        subtitle = self._rate_text
        if self.filter_terms:
            text = " ".join(self.filter_terms)
            subtitle += f" · filter {text!r}: {self.table.row_count} shown"
        self.border_subtitle = subtitle

    # Exchanges

    def _add_exchanges(self, traffic: tuple[TrafficEvent, ...]) -> None:
        new = items_after(traffic, self._last_event)
        if not new:
            return
        self._last_event = new[-1]
        self._events.extend(new)
        shown = [event for event in new if matches(event, self.filter_terms)]
        self._add_rows(shown[-ROWS_KEPT:])

    def _add_rows(self, events: list[TrafficEvent]) -> None:
        if not events:
            return
        table = self.table
        colours = palette(self.app)
        with self.app.batch_update():
            for event in events:
                self._next_key += 1
                self._keys.append(self._next_key)
                cells = _cells(event, self._next_key, colours)
                table.add_row(*cells, key=str(self._next_key))
            while len(self._keys) > ROWS_KEPT:
                table.remove_row(str(self._keys.popleft()))
            table.sort("time", key=sort_key_of)
        self._update_subtitle()

    def row_texts(self) -> list[list[str]]:
        """Return the listed exchanges as plain strings, newest first."""
        return [
            [cell.plain for cell in self.table.get_row_at(row)]
            for row in range(self.table.row_count)
        ]

    # The filter

    def set_filter(self, text: str) -> None:
        """List only the remembered and future exchanges that match `text`."""
        self.filter_terms = text.lower().split()
        self.table.clear()
        self._keys.clear()
        shown = [event for event in self._events if matches(event, self.filter_terms)]
        self._add_rows(shown[-ROWS_KEPT:])
        self._update_subtitle()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Without a filter, escape is left to other widgets.
        if action == "clear_filter":
            return self.has_class("-filtering")
        return True

    def action_open_filter(self) -> None:
        if self.screen.has_class("-compact"):
            self.app.notify(
                "the exchange list is hidden in terminals under 32 rows; "
                "enlarge the terminal to filter it",
                severity="warning",
            )
            return
        self.add_class("-filtering")
        self.filter_input.focus()

    def action_clear_filter(self) -> None:
        self.filter_input.value = ""
        self.set_filter("")
        self.remove_class("-filtering")
        self.table.focus()

    @on(Input.Changed, "#traffic-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.set_filter(event.value)

    @on(Input.Blurred, "#traffic-filter")
    def _filter_blurred(self, event: Input.Blurred) -> None:
        if not event.value.strip():
            self.remove_class("-filtering")

    @on(Input.Submitted, "#traffic-filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if not event.value.strip():
            self.remove_class("-filtering")
        self.table.focus()


def _cells(event: TrafficEvent, sequence: int, colours: Palette) -> tuple:
    if event.error:
        note = Text(truncate(event.error, 40), style=colours.error)
    elif event.kind != "exchange":
        note = Text(event.kind, style=colours.warning)
    else:
        note = Text("")
    arrow = "→" if event.direction == "out" else "←"
    peer = short_id(event.peer_id) if event.peer_id else event.peer
    return (
        KeyedText(format_clock(event.time), -sequence),
        Text(f"{arrow} {peer}"),
        Text(f"{format_bytes(event.bytes_out, compact=True)}/{event.records_out}"),
        Text(f"{format_bytes(event.bytes_in, compact=True)}/{event.records_in}"),
        Text(format_duration(event.duration)),
        note,
    )
