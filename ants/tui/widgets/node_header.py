"""The header: who this node is, how long it has run, and cluster-wide counts."""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from ants.node.job import JobStatus
from ants.node.snapshot import NodeSnapshot
from ants.tui.formatting import format_duration, last_line
from ants.tui.palette import Palette, palette

MEMBER_STATES = ("alive", "suspect", "dead", "left")


class NodeHeader(Widget):
    """Node id, addresses, beat, uptime, class, reloads, peer and job counts.

    Items are packed into lines that fit the widget's width, so the header
    takes two lines on a wide terminal and more on a narrow one. Warnings and
    the last reload error get a line each.
    """

    DEFAULT_CSS = """
    NodeHeader {
        height: auto;
        padding: 0 1;
        background: $panel;
        border-bottom: hkey $primary;
    }
    NodeHeader.-reload-error {
        border-bottom: hkey $error;
    }
    NodeHeader.-view-paused {
        border-bottom: hkey $warning;
    }
    NodeHeader.-stopping {
        border-bottom: hkey $warning;
        background: $warning 15%;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.snapshot: NodeSnapshot | None = None
        self.view_paused = False
        self.stopping_text: str | None = None
        self._lines = 0
        """Lines the header rendered at the last snapshot."""

    def apply_snapshot(self, snapshot: NodeSnapshot) -> None:
        self.snapshot = snapshot
        self.set_class(snapshot.reload_error is not None, "-reload-error")
        # A layout pass redraws the whole screen, so it is requested only when
        # the header's height changes; otherwise repainting the header is enough.
        lines = self.render().plain.count("\n") + 1
        self.refresh(layout=lines != self._lines)
        self._lines = lines

    def set_view_paused(self, paused: bool) -> None:
        self.view_paused = paused
        self.set_class(paused, "-view-paused")
        self.refresh(layout=True)

    def set_stopping(self, text: str) -> None:
        """Show that the node is leaving the cluster; the header stops updating."""
        self.stopping_text = text
        self.add_class("-stopping")
        self.refresh(layout=True)

    def plain_text(self) -> str:
        """Return the header as plain text at its current width."""
        return self.render().plain

    def render(self) -> Text:
        width = max(20, self.content_size.width or self.size.width or 120)
        snapshot = self.snapshot
        if snapshot is None:
            return Text("starting the node…")
        colours = palette(self.app)
        lines = _pack(self._identity_items(snapshot, colours.primary), width)
        lines += _pack(self._count_items(snapshot, colours), width)
        notes = self._notes(snapshot, colours)
        return Text("\n").join(lines + notes)

    def _identity_items(self, snapshot: NodeSnapshot, accent: str) -> list[Text]:
        items = [
            Text(snapshot.node_class, style=f"bold {accent}"),
            _item("node", snapshot.node_id),
            _item("beat", str(snapshot.beat)),
            _item("up", format_duration(snapshot.uptime)),
            _item("reloads", str(snapshot.reloads)),
            _item("listen", snapshot.listen),
            _item("advertise", snapshot.advertise),
        ]
        if snapshot.observe:
            items.append(Text("observing", style="italic"))
        if snapshot.paused:
            items.append(Text("node paused", style="bold"))
        if snapshot.syncing:
            job_count = sum(snapshot.counts.values())
            items.append(Text(
                f"syncing: {job_count:,} jobs, up to {snapshot.sync_behind:,} records to go",
                style="bold",
            ))
        return items

    def _count_items(self, snapshot: NodeSnapshot, colours: Palette) -> list[Text]:
        states = dict.fromkeys(MEMBER_STATES, 0)
        for member in snapshot.members:
            if not member.is_self:
                states[member.state] = states.get(member.state, 0) + 1
        peers = Text("peers ", style="dim")
        for index, state in enumerate(MEMBER_STATES):
            if index:
                peers.append(" · ", style="dim")
            peers.append(str(states[state]), style=colours.member_state(state))
            peers.append(f" {state}")

        job_styles = {
            JobStatus.PENDING: "",
            JobStatus.ASSIGNED: colours.primary,
            JobStatus.DONE: colours.success,
            JobStatus.FAILED: colours.error,
        }
        jobs = Text("jobs ", style="dim")
        for index, (status, style) in enumerate(job_styles.items()):
            if index:
                jobs.append(" · ", style="dim")
            count = snapshot.count(status)
            jobs.append(str(count), style=style if count else "")
            jobs.append(f" {status.name.lower()}")
        return [peers, jobs]

    def _notes(self, snapshot: NodeSnapshot, colours: Palette) -> list[Text]:
        notes = []
        if self.stopping_text:
            notes.append(Text(self.stopping_text, style=f"bold {colours.warning}"))
        if self.view_paused:
            notes.append(Text("view paused: press p to resume", style=colours.warning))
        for warning in snapshot.warnings:
            notes.append(Text(f"warning: {warning}", style=colours.warning))
        if snapshot.reload_error:
            first = snapshot.reload_error.splitlines()[0]
            detail = last_line(snapshot.reload_error)
            text = f"reload failed, {snapshot.node_class} keeps running: {first}"
            if detail and detail not in first:
                text += f" ({detail})"
            notes.append(Text(text, style=f"bold {colours.error}"))
        return notes


def _item(label: str, value: str) -> Text:
    text = Text(f"{label} ", style="dim")
    text.append(value)
    return text


def _pack(items: list[Text], width: int, gap: int = 2) -> list[Text]:
    """Join items into lines of at most `width` cells, never splitting an item."""
    lines: list[Text] = []
    line = Text()
    for item in items:
        needed = item.cell_len + (gap if line.cell_len else 0)
        if line.cell_len and line.cell_len + needed > width:
            lines.append(line)
            line = Text()
        if line.cell_len:
            line.append(" " * gap)
        line.append_text(item)
    if line.cell_len:
        lines.append(line)
    return lines
