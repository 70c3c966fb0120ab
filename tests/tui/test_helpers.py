"""Pure helpers of the dashboard: formatting, the log buffer, traffic rates."""

from __future__ import annotations

import json
import logging
import threading

import pytest
from rich.text import Text

from ants.node.snapshot import NodeEvent
from ants.tui.cells import KeyedText, sort_key_of
from ants.tui.formatting import (
    compact_json,
    format_age,
    format_bytes,
    format_duration,
    last_line,
    short_id,
    truncate,
)
from ants.tui.logbuffer import LogBuffer, PrintToLog
from ants.tui.ring import items_after
from ants.tui.widgets.node_header import _pack
from ants.tui.widgets.traffic_panel import per_second, window_totals


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "-"),
        (0.0123, "12ms"),
        (4.25, "4.2s"),
        (125, "2m05s"),
        (7260, "2h01m"),
        (90000, "1d01h"),
    ],
)
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, "-"), (-3, "0s"), (59.9, "59s"), (61, "1m"), (7200, "2h")],
)
def test_format_age(seconds, text):
    assert format_age(seconds) == text


def test_format_bytes_units():
    assert format_bytes(999) == "999 B"
    assert format_bytes(1234) == "1.2 kB"
    assert format_bytes(5_600_000) == "5.6 MB"
    assert format_bytes(1234, compact=True) == "1.2k"
    assert format_bytes(12, compact=True) == "12B"


def test_short_text_helpers():
    assert short_id("0123456789abcdef") == "01234567"
    assert short_id(None) == "-"
    assert truncate("abcdef", 4) == "abc…"
    assert truncate("abc", 4) == "abc"
    assert compact_json({"b": 1, "a": [1, 2]}) == '{"a":[1,2],"b":1}'
    assert compact_json(b"\x00") == json.dumps(repr(b"\x00"))
    assert last_line("Traceback\n  File x\nValueError: bad\n\n") == "ValueError: bad"
    assert last_line(None) == ""


def test_log_buffer_keeps_newest_and_counts_drops():
    buffer = LogBuffer(capacity=3)
    record_logger = logging.getLogger("ants.test.buffer")
    record_logger.propagate = False
    record_logger.addHandler(buffer)
    record_logger.setLevel(logging.INFO)
    try:
        for index in range(5):
            record_logger.info("line %d", index)
    finally:
        record_logger.removeHandler(buffer)

    lines, dropped = buffer.drain()

    assert [line.text.rsplit(" ", 1)[-1] for line in lines] == ["2", "3", "4"]
    assert dropped == 2
    assert all(line.level == logging.INFO for line in lines)
    assert buffer.drain() == ([], 0)


def test_log_buffer_from_many_threads():
    buffer = LogBuffer(capacity=10_000)
    record = logging.LogRecord("ants.test", logging.INFO, __file__, 1, "x", None, None)

    def emit_many() -> None:
        for _ in range(1000):
            buffer.emit(record)

    threads = [threading.Thread(target=emit_many) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    lines, dropped = buffer.drain(limit=2500)
    rest, _ = buffer.drain()
    assert len(lines) == 2500
    assert len(rest) == 1500
    assert dropped == 0


def test_log_buffer_install_restores_root_level():
    root = logging.getLogger()
    before = root.level
    buffer = LogBuffer()
    buffer.install(logging.DEBUG)
    try:
        assert buffer in root.handlers
        assert root.level == logging.DEBUG
    finally:
        buffer.uninstall()
    assert buffer not in root.handlers
    assert root.level == before


def test_rates_fill_missing_seconds():
    rates = ((98.0, 10, 20, 1, 2), (100.0, 5, 5, 1, 1), (10.0, 999, 999, 9, 9))

    bytes_in = per_second(rates, now=100.5, index=2, window=5)
    records_out = per_second(rates, now=100.5, index=3, window=5)

    assert bytes_in == [0.0, 0.0, 20.0, 0.0, 5.0]
    assert records_out == [0.0, 0.0, 1.0, 0.0, 1.0]
    assert window_totals(rates, now=100.5, window=5) == (15, 25, 2, 3)


def test_items_after_by_identity_then_time():
    events = tuple(NodeEvent(float(t), "job", f"e{t}") for t in range(5))

    assert items_after(events, None) == list(events)
    assert items_after(events, events[2]) == list(events[3:])
    assert items_after(events, events[4]) == []
    dropped = NodeEvent(2.5, "job", "gone")
    assert items_after(events, dropped) == list(events[3:])


def test_keyed_text_equality_includes_sort_key():
    assert KeyedText("a", 1) == KeyedText("a", 1)
    assert KeyedText("a", 1) != KeyedText("a", 2)
    assert sort_key_of(KeyedText("a", (3, "x"))) == (3, "x")


def test_header_packing_never_splits_items():
    items = [Text("alpha"), Text("beta gamma"), Text("delta")]

    lines = _pack(items, width=17)

    assert [line.plain for line in lines] == ["alpha  beta gamma", "delta"]
    assert [line.plain for line in _pack(items, width=80)] == [
        "alpha  beta gamma  delta"
    ]


def test_print_to_log_logs_whole_lines(caplog):
    caplog.set_level(logging.INFO, logger="print")
    stream = PrintToLog(logging.getLogger("print"), logging.WARNING)

    print("first line\nsecond", file=stream, end="")
    assert [r.getMessage() for r in caplog.records] == ["first line"]
    print(" half", file=stream)
    print("tail without newline", file=stream, end="")
    stream.flush()

    assert [r.getMessage() for r in caplog.records] == [
        "first line",
        "second half",
        "tail without newline",
    ]
    assert {r.levelno for r in caplog.records} == {logging.WARNING}
