"""The peers table: every member in this node's member table."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable
from textual.widgets.data_table import RowDoesNotExist

from ants.node.snapshot import MemberView, NodeSnapshot
from ants.tui.cells import KeyedText, plain, sort_key_of
from ants.tui.formatting import format_duration, short_id
from ants.tui.palette import Palette, palette

COLUMNS = (
    ("node", "node"),
    ("address", "address"),
    ("state", "state"),
    ("heard", "heard"),
    ("rtt", "RTT"),
    ("heartbeat", "heartbeat"),
)
"""Column keys and labels; "heard" is the time since the heartbeat last rose."""
STATE_ORDER = {"alive": 0, "suspect": 1, "dead": 2, "left": 3}


class PeersTable(DataTable):
    """Members keyed by node id, updated cell by cell as the snapshot changes.

    This node comes first, then peers by state (alive, suspect, dead, left)
    and id. The border title counts peers that are not alive. Enter on a
    row posts `PeersTable.PeerSelected`.
    """

    DEFAULT_CSS = """
    PeersTable {
        height: 1fr;
        border: round $primary 50%;
        border-title-color: $text;
    }
    PeersTable:focus {
        border: round $primary;
    }
    PeersTable.-unhealthy {
        border: round $warning;
    }
    """

    BINDINGS = [
        Binding(
            "enter",
            "select_cursor",
            "Show only the jobs the selected peer owns",
            show=False,
            key_display="enter",
        ),
    ]

    class PeerSelected(Message):
        """Enter was pressed on a member's row."""

        def __init__(self, node_id: str) -> None:
            super().__init__()
            self.node_id = node_id

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.border_title = "Peers"
        self._cells: dict[str, tuple] = {}

    def on_mount(self) -> None:
        for key, label in COLUMNS:
            self.add_column(label, key=key)

    def apply_snapshot(self, snapshot: NodeSnapshot) -> None:
        colours = palette(self.app)
        members = sorted(snapshot.members, key=_member_order)
        target = {member.node_id: _cells(member, colours) for member in members}
        changed_order = False
        with self.app.batch_update():
            for node_id in list(self._cells):
                if node_id not in target:
                    self.remove_row(node_id)
                    del self._cells[node_id]
            for member in members:
                cells = target[member.node_id]
                old = self._cells.get(member.node_id)
                if old is None:
                    self.add_row(*cells, key=member.node_id)
                    changed_order = True
                elif old != cells:
                    self._update_row(member.node_id, old, cells)
                    changed_order |= old[0].sort_key != cells[0].sort_key
                self._cells[member.node_id] = cells
            if changed_order:
                self.sort("node", key=sort_key_of)

        peers = [member for member in members if not member.is_self]
        unhealthy = sum(1 for member in peers if member.state != "alive")
        title = f"Peers ({len(peers)})"
        if unhealthy:
            title += f" · {unhealthy} not alive"
        self.border_title = title
        self.set_class(unhealthy > 0, "-unhealthy")

    def _update_row(self, node_id: str, old: tuple, new: tuple) -> None:
        for (column, _), before, after in zip(COLUMNS, old, new, strict=True):
            if before != after:
                try:
                    self.update_cell(node_id, column, after, update_width=True)
                except RowDoesNotExist:
                    return

    @on(DataTable.RowSelected)
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value is not None:
            self.post_message(self.PeerSelected(event.row_key.value))

    def cell_texts(self) -> list[list[str]]:
        """Return the rows as plain strings, in display order."""
        return [
            [plain(cell) for cell in self.get_row_at(row)]
            for row in range(self.row_count)
        ]


def _member_order(member: MemberView) -> tuple:
    return (not member.is_self, STATE_ORDER.get(member.state, 9), member.node_id)


def _cells(member: MemberView, colours: Palette) -> tuple:
    node = KeyedText(short_id(member.node_id), _member_order(member))
    if member.is_self:
        node.append(" (self)", style="dim")
    state = Text(member.state, style=f"bold {colours.member_state(member.state)}")
    if member.is_self:
        heard = "-"
        rtt = "-"
    else:
        heard = format_duration(member.last_heard)
        rtt = format_duration(member.rtt)
    # Plain strings would be parsed as console markup, so every cell is Text.
    return (
        node,
        Text(member.address),
        state,
        Text(heard),
        Text(rtt),
        Text(str(member.heartbeat)),
    )
