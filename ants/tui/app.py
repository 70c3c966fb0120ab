"""The ants-tui application: one running node, its cluster, jobs, traffic and log.

Threads: the node runs on its own threads (`BaseNode.start`); the reload
watcher has one more. Neither ever waits for the UI. The UI pulls
`node.snapshot()` on a timer, and reload results arrive as messages posted
with `post_message`, which only queues them.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from textual import events, on
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal
from textual.events import Resize
from textual.message import Message
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.widgets import Footer

from ants.errors import AntsError
from ants.node.base import BaseNode
from ants.node.job import JobRecord
from ants.node.loader import NodeReloader
from ants.node.snapshot import NodeSnapshot
from ants.tui.commands import DashboardCommands
from ants.tui.export import free_path, timestamped_name
from ants.tui.job_actions import JobActionsMixin
from ants.tui.logbuffer import LogBuffer
from ants.tui.swarm import Swarm
from ants.tui.widgets.job_detail import JobDetailScreen
from ants.tui.widgets.jobs_panel import JobsPanel
from ants.tui.widgets.keys_screen import KeysScreen, key_rows, key_sections
from ants.tui.widgets.log_panel import LogPanel
from ants.tui.widgets.node_header import NodeHeader
from ants.tui.widgets.peers_table import PeersTable
from ants.tui.widgets.traffic_panel import TrafficPanel

logger = logging.getLogger(__name__)
print_logger = logging.getLogger("print")
"""Logger that carries the node's print() output into the log panel."""

LOG_FLUSH_INTERVAL = 1.0
"""Seconds between writes to the log panel. Each write lays out the whole
screen again, which costs more than the write, so lines are written in batches."""
REFRESH_INTERVAL = 0.25
"""Seconds between snapshot reads; 4 per second at most keeps the node unburdened."""

QUIT_TIMEOUT = 1.8
"""Seconds `q` waits for the node to leave the cluster before the app exits anyway."""

NODE_STOP_TIMEOUT = 1.5
"""Seconds `node.shutdown` may wait for the beat thread; under QUIT_TIMEOUT so
that the departure announcement usually fits in the rest."""

COMPACT_HEIGHT = 32
"""Terminal rows below which the layout drops the traffic table and shrinks panels."""

LOG_LINES_PER_FLUSH = 2000
"""Log records moved into the panel per write; the rest wait for the next one."""

MAX_REFRESH_SHARE = 0.3
"""Largest share of the time that the timer may spend applying snapshots. The
node's threads share the interpreter lock with the UI, so after a slow refresh
the next waits until its cost is this share of the time since it began."""


class AntsApp(JobActionsMixin, App[int]):
    """A live view of one ants node; it starts the node if needed and stops it on exit.

    Args:
        node: The node to show. It is started on mount unless already started.
        path: The node file; when given, the file is watched and reloaded.
        class_name: The class to load from `path` when it defines several.
        reload: Whether to watch `path` for changes.
        swarm: Child nodes to stop on exit; they must be started already.
        log_buffer: A LogBuffer already installed on the root logger; when
            None the app installs its own for its lifetime.
        refresh_interval: Seconds between snapshot reads, 0.25 or more.
        clock: Returns the wall-clock time in seconds since the epoch; ages,
            rates and "ago" times are measured against it. Tests pass a
            frozen clock so that screenshots do not change from run to run.
    """

    CSS_PATH = "ants.tcss"
    TITLE = "ants"
    COMMANDS = App.COMMANDS | {DashboardCommands}

    BINDINGS = [
        Binding("q", "quit", "Quit", tooltip="Leave the cluster and exit"),
        # Replaces Textual's ctrl+q, whose description mentions only quitting
        # the app. Both keys run action_quit, and the shared tooltip puts them
        # in one row on the keys screen.
        Binding(
            "ctrl+q",
            "quit",
            "Quit",
            show=False,
            priority=True,
            tooltip="Leave the cluster and exit",
        ),
        Binding("r", "reload", "Reload", tooltip="Reload the node file now"),
        Binding(
            "p",
            "toggle_pause",
            "Pause view",
            tooltip="Freeze or resume the header and tables; the log keeps flowing",
        ),
        Binding(
            "1", "focus_panel('peers')", "Peers", show=False, tooltip="Focus the peers table"
        ),
        Binding(
            "2",
            "focus_panel('traffic')",
            "Traffic",
            show=False,
            tooltip="Focus the list of gossip exchanges",
        ),
        Binding(
            "3", "focus_panel('jobs')", "Jobs", show=False, tooltip="Focus the jobs table"
        ),
        Binding("4", "focus_panel('log')", "Log", show=False, tooltip="Focus the log"),
        Binding(
            "S",
            "save_svg",
            "Screenshot",
            show=False,
            tooltip="Save an SVG screenshot of the dashboard in the current folder",
        ),
        Binding(
            "N",
            "toggle_node_pause",
            "Pause node",
            show=False,
            tooltip="Stop or restart creating and claiming jobs; gossip goes on",
        ),
        Binding(
            "a", "add_job", "Add job", tooltip="Add a job from a name and a payload"
        ),
        Binding(
            "t",
            "retry_job",
            "Retry",
            show=False,
            tooltip="Run the selected failed job again as a new job",
        ),
        Binding(
            "u",
            "requeue_job",
            "Re-queue",
            show=False,
            tooltip="Take the selected assigned job from its owner, after asking",
        ),
        Binding(
            "c",
            "cancel_job",
            "Cancel",
            show=False,
            tooltip="End the selected pending job as failed, after asking",
        ),
        Binding(
            "ctrl+p",
            "command_palette",
            "Commands",
            show=False,
            priority=True,
            tooltip="Open the command palette: every action, searched by name",
        ),
        Binding(
            "question_mark",
            "show_keys",
            "Keys",
            key_display="?",
            tooltip="Show every key",
        ),
    ]

    class ReloadFinished(Message):
        """The reloader finished loading the node file, successfully or not."""

        def __init__(self, ok: bool, text: str) -> None:
            super().__init__()
            self.ok = ok
            self.text = text

    def __init__(
        self,
        node: BaseNode,
        *,
        path: str | Path | None = None,
        class_name: str | None = None,
        reload: bool = True,
        swarm: Swarm | None = None,
        log_buffer: LogBuffer | None = None,
        refresh_interval: float = REFRESH_INTERVAL,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__()
        if refresh_interval < REFRESH_INTERVAL:
            raise ValueError(
                f"refresh_interval must be at least {REFRESH_INTERVAL}s, "
                f"got {refresh_interval}"
            )
        self.node = node
        self.path = Path(path) if path is not None else None
        self.class_name = class_name
        self.swarm = swarm
        self.refresh_interval = refresh_interval
        self._log_flushed_at = -LOG_FLUSH_INTERVAL
        self.clock = clock
        self.reloader: NodeReloader | None = None
        if self.path is not None and reload:
            self.reloader = NodeReloader(
                node, self.path, class_name, on_result=self._post_reload_result
            )
        self._owns_log_buffer = log_buffer is None
        self.log_buffer = log_buffer if log_buffer is not None else LogBuffer()
        self.snapshot: NodeSnapshot | None = None
        self.view_paused = False
        self._shown_version: int | None = None
        self._next_refresh_at = 0.0
        """Monotonic time before which timer ticks only move log records."""
        self._shown_reload_error: str | None = None
        self._shown_warnings: set[str] = set()
        self._quitting = False
        self._stopped = False
        self._printed = ""
        """Printed text after the last newline, waiting for the rest of its line."""

    # Layout and life cycle

    def compose(self) -> ComposeResult:
        yield NodeHeader(id="header")
        with Horizontal(id="top-row"):
            yield PeersTable(id="peers")
            yield TrafficPanel(id="traffic")
        yield JobsPanel(id="jobs")
        yield LogPanel(id="log-panel")
        yield Footer(show_command_palette=False)

    def on_mount(self) -> None:
        if self._owns_log_buffer:
            self.log_buffer.install(logging.INFO)
        try:
            if self.node.runtime.started_at is None:
                self.node.start()
        except AntsError as exc:
            self.tell(f"the node did not start: {exc}", "error")
            self._stopped = True
            return
        if self.reloader is not None:
            self.reloader.start()
            logger.info("watching %s for changes", self.path)
        # The node's print() output goes to the log panel, not under the screen.
        self.begin_capture_print(self)
        self._install_sigterm()
        self.set_interval(self.refresh_interval, self._refresh_tick)
        self.query_one(JobsPanel).focus_table()
        self.refresh_view()

    def _install_sigterm(self) -> None:
        # SIGTERM quits like `q`: the node leaves the cluster and the terminal is restored.
        if threading.current_thread() is not threading.main_thread():
            return
        try:
            loop = asyncio.get_running_loop()
            loop.add_signal_handler(
                signal.SIGTERM, lambda: asyncio.ensure_future(self.action_quit())
            )
        except (NotImplementedError, RuntimeError, ValueError):
            logger.debug("SIGTERM handler not installed; SIGTERM ends the dashboard at once")

    def on_print(self, event: events.Print) -> None:
        """Send printed text to the log panel, one record a line."""
        self._printed += event.text
        *lines, self._printed = self._printed.split("\n")
        level = logging.WARNING if event.stderr else logging.INFO
        for line in lines:
            if line.strip():
                print_logger.log(level, line)

    def on_unmount(self) -> None:
        if not self._stopped:
            self._stop_node()
        if self._owns_log_buffer:
            self.log_buffer.uninstall()

    def on_resize(self, event: Resize) -> None:
        self.default_screen.set_class(event.size.height < COMPACT_HEIGHT, "-compact")

    # Refreshing from the snapshot

    def refresh_view(self) -> None:
        """Move new log records into the log panel and show a new snapshot, if any."""
        if not self.is_running:
            # Textual clears `_running` before it takes the screens down, and a
            # tick can still fire while widgets are half removed.
            return
        self._drain_log()
        if self._quitting:
            return
        self._check_swarm()
        if self.view_paused:
            return
        snapshot = self.node.snapshot()
        if snapshot.version == self._shown_version:
            return
        self._shown_version = snapshot.version
        self.snapshot = snapshot
        self._apply_snapshot(snapshot)

    def _refresh_tick(self) -> None:
        """Refresh on the timer, unless the last refresh was too slow to repeat yet.

        Only applying the snapshot is timed: layout and rendering follow
        later, so the UI's real share of the time is larger.
        """
        started = time.monotonic()
        if started < self._next_refresh_at:
            if self.is_running:
                self._drain_log()
            return
        self.refresh_view()
        cost = time.monotonic() - started
        self._next_refresh_at = started + cost / MAX_REFRESH_SHARE

    def _apply_snapshot(self, snapshot: NodeSnapshot) -> None:
        self.query_one(NodeHeader).apply_snapshot(snapshot)
        self.query_one(PeersTable).apply_snapshot(snapshot)
        self.query_one(TrafficPanel).apply_snapshot(snapshot, now=self.clock())
        self.query_one(JobsPanel).apply_snapshot(snapshot)
        self.query_one(LogPanel).apply_snapshot(snapshot)
        self._report_changes(snapshot)
        screen = self.screen
        if isinstance(screen, JobDetailScreen):
            screen.update_record(self.query_one(JobsPanel).record(screen.job_id))

    def _report_changes(self, snapshot: NodeSnapshot) -> None:
        if snapshot.reload_error and snapshot.reload_error != self._shown_reload_error:
            self.query_one(LogPanel).write_block(snapshot.reload_error)
        self._shown_reload_error = snapshot.reload_error
        for warning in snapshot.warnings:
            if warning not in self._shown_warnings:
                self._shown_warnings.add(warning)
                self.tell(warning, "warning")

    def _drain_log(self) -> None:
        now = time.monotonic()
        if now - self._log_flushed_at < LOG_FLUSH_INTERVAL:
            return
        self._log_flushed_at = now
        lines, dropped = self.log_buffer.drain(LOG_LINES_PER_FLUSH)
        if lines or dropped:
            self.query_one(LogPanel).write_records(lines, dropped)

    def _check_swarm(self) -> None:
        if self.swarm is None:
            return
        for child in self.swarm.newly_exited():
            self.tell(
                f"swarm node PID {child.pid} exited with code "
                f"{child.process.returncode}; its log is {child.log_path}",
                "warning",
            )

    # Messages to the user

    def tell(self, text: str, severity: SeverityLevel = "information") -> None:
        """Show `text` as a notification and keep a copy in the log panel."""
        timeout = 10.0 if severity == "error" else 5.0
        self.notify(text, severity=severity, timeout=timeout, markup=False)
        for panel in self.query(LogPanel):
            panel.write_notice(text, severity)

    # Hot reload

    def _post_reload_result(self, ok: bool, text: str) -> None:
        # Runs on the watcher thread or the node's beat thread: queue only.
        try:
            self.post_message(self.ReloadFinished(ok, text))
        except RuntimeError:
            # The event loop has closed because the app is exiting.
            pass

    @on(ReloadFinished)
    def _reload_finished(self, message: ReloadFinished) -> None:
        name = type(self.node).__name__
        if message.ok:
            # An earlier failure's toast is stale once a reload succeeds.
            self.clear_notifications()
            self.tell(f"reloaded {name} (reload {self.node.runtime.reloads})")
        else:
            self.tell(f"reload failed, {name} keeps running: {message.text}", "error")
        self.refresh_view()

    def action_reload(self) -> None:
        """Reload the node file now, even if it did not change."""
        reloader = self.reloader
        if reloader is None:
            self.tell(
                "hot reload is off: the dashboard was started without a file", "warning"
            )
            return

        def reload_in_background() -> None:
            try:
                reloader.reload_now(force=True)
            except Exception:
                logger.exception("reloading %s failed", reloader.path)

        logger.info("reloading %s on request", reloader.path)
        # A daemon thread, not a worker: importing user code cannot be
        # cancelled, and it must not keep the app from exiting.
        threading.Thread(
            target=reload_in_background, name="ants-tui-reload", daemon=True
        ).start()

    # Other actions

    def action_toggle_pause(self) -> None:
        """Freeze or resume the header and tables; the log keeps flowing."""
        self.view_paused = not self.view_paused
        self.query_one(NodeHeader).set_view_paused(self.view_paused)
        if not self.view_paused:
            self._shown_version = None
            self.refresh_view()

    def action_toggle_node_pause(self) -> None:
        """Stop or restart creating and claiming jobs on this node."""
        runtime = self.node.runtime
        if runtime.paused:
            runtime.resume()
            self.tell("node resumed: it creates and claims jobs again")
        else:
            runtime.pause()
            self.tell(
                "node paused: it stops creating and claiming jobs; gossip goes on"
            )

    def action_focus_panel(self, panel: str) -> None:
        if self.screen.is_modal:
            return
        if panel == "peers":
            self.query_one(PeersTable).focus()
        elif panel == "traffic":
            self.query_one(TrafficPanel).table.focus()
        elif panel == "jobs":
            self.query_one(JobsPanel).focus_table()
        elif panel == "log":
            self.query_one(LogPanel).focus_log()

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        # DashboardCommands offers Quit, Keys and a screenshot with the
        # dashboard's own meaning: leaving the cluster, every panel's keys,
        # and a file in the current folder named in a notification.
        for command in super().get_system_commands(screen):
            if command.title not in ("Quit", "Keys", "Screenshot"):
                yield command

    def action_show_keys(self) -> None:
        if isinstance(self.screen, KeysScreen):
            return
        # Panel and screen keys are gathered by key_sections.
        bindings = [
            active.binding
            for active in self.active_bindings.values()
            if active.node is self
        ]
        keys = key_rows(self, bindings)
        self.push_screen(KeysScreen(keys, key_sections(self, self.default_screen)))

    def action_save_svg(self) -> None:
        """Save the screen as SVG in the current folder and tell where."""
        target = free_path(Path.cwd(), timestamped_name("ants-dashboard", "svg"))
        try:
            path = self.save_screenshot(filename=target.name, path=str(target.parent))
        except OSError as exc:
            self.tell(f"screenshot failed: {exc}", "error")
            return
        self.tell(f"saved a screenshot to {path}")

    @on(JobsPanel.JobSelected)
    def _show_job(self, message: JobsPanel.JobSelected) -> None:
        record = _find_record(self.snapshot, message.job_id) if self.snapshot else None
        self.push_screen(
            JobDetailScreen(
                message.job_id, record, self.node.node_id, history=self.node.job_history
            )
        )

    @on(PeersTable.PeerSelected)
    def _filter_jobs_by_peer(self, message: PeersTable.PeerSelected) -> None:
        jobs = self.query_one(JobsPanel)
        jobs.filter_owner(message.node_id)
        jobs.focus_table()

    # Quitting

    async def action_quit(self) -> None:
        """Leave the cluster and exit, waiting at most QUIT_TIMEOUT seconds."""
        if self._quitting:
            return
        self._quitting = True
        self.query_one(NodeHeader).set_stopping("leaving the cluster…")
        stopper = threading.Thread(
            target=self._stop_node, name="ants-tui-stop", daemon=True
        )
        stopper.start()
        deadline = time.monotonic() + QUIT_TIMEOUT
        while stopper.is_alive() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        if stopper.is_alive():
            logger.warning(
                "node %s did not stop within %.1fs; exiting anyway",
                self.node.node_id,
                QUIT_TIMEOUT,
            )
        self.exit(0)

    def _stop_node(self) -> None:
        self._stopped = True
        if self.swarm is not None:
            self.swarm.terminate()
        if self.reloader is not None:
            self.reloader.stop()
        self.node.shutdown(timeout=NODE_STOP_TIMEOUT)


def _find_record(snapshot: NodeSnapshot, job_id: str) -> JobRecord | None:
    for record in snapshot.jobs:
        if record.id == job_id:
            return record
    return None


def make_app(
    node: BaseNode,
    *,
    path: str | Path | None = None,
    class_name: str | None = None,
    reload: bool = True,
    swarm: Swarm | None = None,
    log_buffer: LogBuffer | None = None,
    refresh_interval: float = REFRESH_INTERVAL,
    clock: Callable[[], float] = time.time,
) -> AntsApp:
    """Build the dashboard for `node`; the CLI and the tests both start here."""
    return AntsApp(
        node,
        path=path,
        class_name=class_name,
        reload=reload,
        swarm=swarm,
        log_buffer=log_buffer,
        refresh_interval=refresh_interval,
        clock=clock,
    )
