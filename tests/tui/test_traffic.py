"""The traffic panel on a real three-node cluster: sparklines and the filter."""

from __future__ import annotations

import pytest
from textual.widgets import Input, Sparkline

from ants.node.snapshot import TrafficEvent
from ants.tui.app import make_app
from ants.tui.widgets.traffic_panel import (
    RATE_SERIES,
    TrafficPanel,
    matches,
    rate_label,
)

SIZE = (120, 40)


async def test_sparklines_get_data(node_file, make_node, wait_until):
    node = make_node(node_file)
    app = make_app(node, reload=False)
    async with app.run_test(size=SIZE) as pilot:
        peer = make_node(node_file, bootstrap=[node.communication.listen_address])
        peer.start()
        panel = app.query_one(TrafficPanel)

        def sparkline(widget_id: str) -> Sparkline:
            return panel.query_one(f"#{widget_id}-sparkline", Sparkline)

        for widget_id, *_ in RATE_SERIES:
            await wait_until(
                pilot,
                lambda widget_id=widget_id: sum(sparkline(widget_id).data) > 0,
                f"data in the {widget_id} sparkline",
            )
            assert len(sparkline(widget_id).data) == 60
        label = panel.query_one("#bytes-in-label").render()
        assert str(label).startswith("in ")
        assert str(label) != "in 0B/s"


async def test_traffic_filter_by_peer_and_kind(node_file, make_node, wait_until):
    node = make_node(node_file)
    app = make_app(node, reload=False)
    async with app.run_test(size=SIZE) as pilot:
        address = node.communication.listen_address
        first = make_node(node_file, bootstrap=[address])
        second = make_node(node_file, bootstrap=[address])
        first.start()
        second.start()
        panel = app.query_one(TrafficPanel)

        def peers_listed() -> set[str]:
            return {row[1][2:] for row in panel.row_texts()}

        both_peers = {first.node_id[:8], second.node_id[:8]}
        await wait_until(
            pilot, lambda: both_peers <= peers_listed(), "exchanges with both peers"
        )

        await pilot.press("2")
        await pilot.press("f")
        filter_input = panel.query_one("#traffic-filter", Input)
        assert app.focused is filter_input
        await pilot.press(*first.node_id[:8])
        assert peers_listed() == {first.node_id[:8]}
        assert f"filter '{first.node_id[:8]}'" in panel.border_subtitle

        # New exchanges are filtered as they arrive.
        newest = panel.row_texts()[0][0]
        await wait_until(
            pilot,
            lambda: panel.row_texts()[0][0] != newest,
            "a newer exchange with the first peer",
        )
        assert peers_listed() == {first.node_id[:8]}

        await pilot.press("enter")
        assert app.focused is panel.table
        filter_input.value = "leave"
        await pilot.pause()
        assert panel.row_texts() == []

        second.shutdown(timeout=1.0)
        await wait_until(pilot, lambda: panel.row_texts() != [], "the leave notice")
        rows = panel.row_texts()
        assert {row[1] for row in rows} == {f"← {second.node_id[:8]}"}
        assert {row[5] for row in rows} == {"leave"}

        await pilot.press("escape")
        assert panel.filter_terms == []
        assert filter_input.value == ""
        assert not panel.has_class("-filtering")
        assert first.node_id[:8] in peers_listed()


def _event(**changes) -> TrafficEvent:
    fields = dict(
        time=100.0,
        peer="127.0.0.1:9001",
        peer_id="abcdef0123456789",
        direction="out",
        bytes_out=10,
        bytes_in=20,
        records_out=1,
        records_in=2,
        duration=0.01,
    )
    fields.update(changes)
    return TrafficEvent(**fields)


@pytest.mark.parametrize(
    ("event", "text", "expected"),
    [
        (_event(), "", True),
        (_event(), "out", True),
        (_event(), "in", False),
        (_event(direction="in"), "in", True),
        (_event(), "abcdef", True),
        (_event(), "ABCDEF", True),
        (_event(), ":9001", True),
        (_event(), ":9002", False),
        (_event(peer_id=None), "abcdef", False),
        (_event(), "leave", False),
        (_event(kind="leave"), "leave", True),
        (_event(), "exchange", True),
        (_event(), "error", False),
        (_event(error="connection refused"), "error", True),
        (_event(error="connection refused"), "refused", True),
        (_event(error="connection refused"), "error out 9001", True),
        (_event(error="connection refused"), "error in", False),
    ],
)
def test_filter_terms_match(event, text, expected):
    assert matches(event, text.lower().split()) is expected


@pytest.mark.parametrize(
    ("direction", "rate", "is_bytes", "expected"),
    [
        ("in", 0.0, True, "in 0B/s"),
        ("out", 3800.0, True, "out 3.8kB/s"),
        ("out", 999_900.0, True, "out 999.9kB/s"),
        ("in", 2.6, False, "in 3 rec/s"),
        ("out", 1234.0, False, "out 1.2k rec/s"),
        ("out", 123_456.0, False, "out 123k rec/s"),
    ],
)
def test_rate_label_fits_column(direction, rate, is_bytes, expected):
    label = rate_label(direction, rate, is_bytes)

    assert label == expected
    assert len(label) <= 14
