"""Commands of the ants-tui command palette (ctrl+p): the job actions and app keys."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from textual.command import DiscoveryHit, Hit, Hits, Provider

from ants.tui.widgets.jobs_panel import JobsPanel
from ants.tui.widgets.traffic_panel import TrafficPanel

if TYPE_CHECKING:
    from ants.tui.app import AntsApp


@dataclass(frozen=True, slots=True)
class PaletteCommand:
    """One palette entry; `action` is an app action, run as its key would run it."""

    title: str
    help: str
    key: str
    action: str


def _open_traffic_filter(app: AntsApp) -> None:
    app.action_focus_panel("traffic")
    app.query_one(TrafficPanel).action_open_filter()


def _jobs_action(app: AntsApp, name: str) -> None:
    """Focus the jobs panel and run one of its actions, as its key would."""
    app.action_focus_panel("jobs")
    getattr(app.query_one(JobsPanel), f"action_{name}")()


def dashboard_commands(app: AntsApp) -> list[PaletteCommand]:
    """Return the palette's commands, with titles that fit the app's current state."""
    view = "Resume the view" if app.view_paused else "Pause the view"
    node = "Resume the node" if app.node.runtime.paused else "Pause the node"
    return [
        PaletteCommand(
            "Retry the selected job",
            "Run the selected failed job again as a new job",
            "t",
            "retry_job",
        ),
        PaletteCommand(
            "Re-queue the selected job",
            "Take the selected assigned job from its owner and make it pending, "
            "after asking",
            "u",
            "requeue_job",
        ),
        PaletteCommand(
            "Cancel the selected job",
            "End the selected pending job as failed so no node runs it, after asking",
            "c",
            "cancel_job",
        ),
        PaletteCommand(
            "Add a job",
            "Create a job from a name, a JSON payload and optional limits",
            "a",
            "add_job",
        ),
        PaletteCommand(
            "Reload the node file",
            "Import the node file again and swap the class in, even if unchanged",
            "r",
            "reload",
        ),
        PaletteCommand(
            view,
            "Freeze or resume the header and tables; the log keeps flowing",
            "p",
            "toggle_pause",
        ),
        PaletteCommand(
            node,
            "Stop or restart creating and claiming jobs on this node; gossip goes on",
            "N",
            "toggle_node_pause",
        ),
        PaletteCommand(
            "Focus the peers",
            "Move the focus to the peers table",
            "1",
            "focus_panel('peers')",
        ),
        PaletteCommand(
            "Focus the gossip traffic",
            "Move the focus to the list of gossip exchanges",
            "2",
            "focus_panel('traffic')",
        ),
        PaletteCommand(
            "Focus the jobs",
            "Move the focus to the jobs table",
            "3",
            "focus_panel('jobs')",
        ),
        PaletteCommand(
            "Focus the log", "Move the focus to the log", "4", "focus_panel('log')"
        ),
        PaletteCommand(
            "Show the keys", "List every key of the dashboard", "?", "show_keys"
        ),
        PaletteCommand("Quit", "Leave the cluster and exit the dashboard", "q", "quit"),
    ]


class DashboardCommands(Provider):
    """Palette provider of the dashboard's actions, each with its help text and key."""

    def _entries(self) -> Iterator[tuple[str, str, Callable[[], Any]]]:
        app: AntsApp = self.app  # type: ignore[assignment]
        for command in dashboard_commands(app):
            help_text = f"{command.help} (key {command.key})"
            yield command.title, help_text, partial(app.run_action, command.action)
        jobs_actions = (
            ("Filter the jobs", "List only the jobs whose name, payload, owner or id "
             "contains a text (key / in the jobs panel)", "open_filter"),
            ("Sort the jobs", "Switch the jobs between problems first and newest first "
             "(key s in the jobs panel)", "toggle_sort"),
            ("Export the jobs", "Write the jobs of the current view to CSV or JSON Lines "
             "(key e in the jobs panel)", "export"),
        )
        for title, help_text, name in jobs_actions:
            yield title, help_text, partial(_jobs_action, app, name)
        yield (
            "Save a screenshot",
            "Save an SVG screenshot of the dashboard in the current folder (key S)",
            partial(app.run_action, "save_svg"),
        )
        yield (
            "Filter the gossip exchanges",
            "List only the exchanges that match a peer, in, out, leave or error "
            "(key f in the traffic panel)",
            partial(_open_traffic_filter, app),
        )

    async def discover(self) -> Hits:
        for title, help_text, callback in self._entries():
            yield DiscoveryHit(title, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, callback in self._entries():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), callback, help=help_text)
