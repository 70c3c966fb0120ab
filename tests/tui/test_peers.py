"""The peers table through a peer's life: alive, suspect, dead, and one that left."""

from __future__ import annotations

import signal
from dataclasses import replace

from helpers import wait_for_listening
from rich.text import Text

from ants.node.snapshot import MemberView
from ants.tui.app import make_app
from ants.tui.palette import palette
from ants.tui.widgets.peers_table import COLUMNS, PeersTable

SIZE = (120, 40)
STATE = [key for key, _ in COLUMNS].index("state")


def _row(table: PeersTable, node_id: str) -> list[Text] | None:
    for index in range(table.row_count):
        cells = table.get_row_at(index)
        if cells[0].plain.startswith(node_id[:8]):
            return cells
    return None


def _state(table: PeersTable, node_id: str) -> str | None:
    row = _row(table, node_id)
    return row[STATE].plain if row is not None else None


async def test_peer_left_shows_heard_rtt_and_colour(node_file, make_node, wait_until):
    node = make_node(node_file)
    app = make_app(node, reload=False)
    async with app.run_test(size=SIZE) as pilot:
        peer = make_node(node_file, bootstrap=[node.communication.listen_address])
        peer.start()
        table = app.query_one(PeersTable)
        colours = palette(app)

        await wait_until(pilot, lambda: _state(table, peer.node_id) == "alive", "alive")
        await wait_until(
            pilot,
            lambda: _row(table, peer.node_id)[4].plain.endswith("ms"),
            "a round-trip time from an exchange",
        )
        row = _row(table, peer.node_id)
        assert row[3].plain != "-"
        assert colours.success in str(row[STATE].style)

        peer.shutdown(timeout=1.0)
        await wait_until(pilot, lambda: _state(table, peer.node_id) == "left", "left")
        assert colours.muted in str(_row(table, peer.node_id)[STATE].style)
        assert "1 not alive" in table.border_title


async def test_killed_peer_turns_suspect_then_dead(
    tmp_path, node_file, make_node, processes, wait_until
):
    # A suspect window of 4 s, so a slow refresh on a busy machine still shows it.
    node = make_node(node_file, suspect_after=1.0, dead_after=5.0)
    app = make_app(node, reload=False)
    async with app.run_test(size=SIZE) as pilot:
        child = processes.start_node(
            node_file,
            "--port", "0",
            "--bootstrap", node.communication.listen_address,
            "--interval", "0.2",
            "--suspect-after", "1.5",
            "--dead-after", "3",
        )  # fmt: skip
        child_id, _ = wait_for_listening(child)
        table = app.query_one(PeersTable)
        colours = palette(app)
        await wait_until(pilot, lambda: _state(table, child_id) == "alive", "alive")

        # SIGKILL sends no leave notice, so the node judges it by its silence alone.
        child.send_signal(signal.SIGKILL)
        await wait_until(pilot, lambda: _state(table, child_id) == "suspect", "suspect")
        assert colours.warning in str(_row(table, child_id)[STATE].style)
        await wait_until(pilot, lambda: _state(table, child_id) == "dead", "dead")
        assert colours.error in str(_row(table, child_id)[STATE].style)
        heard = _row(table, child_id)[3].plain
        assert heard.endswith("s")
        assert heard != "-"


async def test_updated_cell_widens_its_column(node_file, make_node, wait_until):
    node = make_node(node_file)
    app = make_app(node, reload=False)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.snapshot is not None, "a first snapshot")
        await pilot.press("p")
        table = app.query_one(PeersTable)
        peer = MemberView("f" * 16, "127.0.0.1:9", "alive", 1, None, None)
        table.apply_snapshot(replace(app.snapshot, members=(peer,)))
        await pilot.pause()

        slower = replace(peer, heartbeat=2, last_heard=65.0, rtt=0.1234)
        table.apply_snapshot(replace(app.snapshot, members=(slower,)))
        await pilot.pause()

        widths = {
            column.key.value: column.get_render_width(table)
            for column in table.ordered_columns
        }
        row = _row(table, slower.node_id)
        assert row[4].plain == "123ms"
        assert row[3].plain == "1m05s"
        # The render width counts one cell of padding on each side.
        assert widths["rtt"] >= len("123ms") + 2
        assert widths["heard"] >= len("1m05s") + 2
