"""The command palette, the keys screen and the node pause key, through Pilot."""

from __future__ import annotations

import time

from textual.command import CommandList, CommandPalette

from ants.tui.app import make_app
from ants.tui.widgets.jobs_panel import JobsPanel
from ants.tui.commands import dashboard_commands
from ants.tui.widgets.add_job_modal import AddJobModal
from ants.tui.widgets.keys_screen import KeysScreen
from ants.tui.widgets.node_header import NodeHeader

SIZE = (120, 40)


def _palette_entries(app) -> dict[str, str]:
    """Return the palette's listed commands as title -> help text."""
    commands = app.screen.query_one(CommandList)
    entries = {}
    for index in range(commands.option_count):
        hit = commands.get_option_at_index(index).hit
        entries[hit.text] = hit.help
    return entries


async def _open_palette(pilot, app, wait_until) -> None:
    """Wait for a first snapshot, then open the command palette."""
    await wait_until(pilot, lambda: app.snapshot is not None, "a first snapshot")
    await pilot.press("ctrl+p")
    await wait_until(pilot, lambda: isinstance(app.screen, CommandPalette), "the palette")


async def _run_from_palette(pilot, app, query: str, entry: str, wait_until) -> None:
    """Open the palette, type `query`, and run `entry` once it is the best match."""
    await pilot.press("ctrl+p")
    await wait_until(pilot, lambda: isinstance(app.screen, CommandPalette), "the palette")
    await pilot.press(*query)
    await wait_until(
        pilot,
        lambda: next(iter(_palette_entries(app)), None) == entry,
        f"{entry} as the best match",
    )
    await pilot.press("enter")


async def test_palette_lists_actions_with_help(node_file, make_node, wait_until):
    node = make_node(node_file)
    app = make_app(node, reload=False)
    async with app.run_test(size=SIZE) as pilot:
        await _open_palette(pilot, app, wait_until)
        titles = [command.title for command in dashboard_commands(app)]
        await wait_until(
            pilot,
            lambda: set(titles) <= set(_palette_entries(app)),
            "every dashboard command listed",
        )
        entries = _palette_entries(app)
        assert entries["Retry the selected job"] == (
            "Run the selected failed job again as a new job (key t)"
        )
        assert entries["Cancel the selected job"].endswith("(key c)")
        assert entries["Re-queue the selected job"].endswith("(key u)")
        assert entries["Add a job"].endswith("(key a)")
        assert entries["Reload the node file"].endswith("(key r)")
        assert entries["Pause the view"].endswith("(key p)")
        assert entries["Focus the jobs"].endswith("(key 3)")
        assert entries["Show the keys"].endswith("(key ?)")
        assert entries["Quit"] == "Leave the cluster and exit the dashboard (key q)"
        assert "Filter the gossip exchanges" in entries
        for title in ("Filter the jobs", "Sort the jobs", "Export the jobs"):
            assert title in entries
        assert entries["Save a screenshot"].endswith("(key S)")
        # Textual's own Keys entry opens a different help panel, so it is left out.
        assert "Keys" not in entries
        # Its Screenshot entry would save a second kind of screenshot.
        assert "Screenshot" not in entries
        await pilot.press("escape")


async def test_palette_runs_node_pause(tmp_path, node_source, make_node, wait_until):
    # One job per beat for longer than the test runs, so a pause shows.
    node_file = tmp_path / "many.py"
    node_file.write_text(node_source(jobs=100_000))
    node = make_node(node_file)
    app = make_app(node, reload=False)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.snapshot is not None, "a first snapshot")
        await _run_from_palette(pilot, app, "pause the node", "Pause the node", wait_until)

        await wait_until(pilot, lambda: node.runtime.paused, "the node paused")
        await wait_until(
            pilot,
            lambda: "node paused" in app.query_one(NodeHeader).plain_text(),
            "the header showing the pause",
        )
        jobs = len(node.state.jobs)
        await pilot.pause(1.0)
        assert len(node.state.jobs) == jobs

        await pilot.press("N")
        await wait_until(pilot, lambda: not node.runtime.paused, "the node resumed")
        await wait_until(
            pilot, lambda: len(node.state.jobs) > jobs, "new jobs after resuming"
        )


async def test_palette_sorts_jobs(node_file, make_node, wait_until):
    node = make_node(node_file)
    app = make_app(node, reload=False)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.snapshot is not None, "a first snapshot")
        jobs = app.query_one(JobsPanel)
        before = jobs.order

        await _run_from_palette(pilot, app, "sort the jobs", "Sort the jobs", wait_until)

        await wait_until(pilot, lambda: jobs.order != before, "the sort switched")


async def test_palette_opens_add_job_form(node_file, make_node, wait_until):
    node = make_node(node_file)
    app = make_app(node, reload=False)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.snapshot is not None, "a first snapshot")
        await _run_from_palette(pilot, app, "add a job", "Add a job", wait_until)
        await wait_until(
            pilot, lambda: isinstance(app.screen, AddJobModal), "the add-job form"
        )


async def test_palette_opens_traffic_filter(node_file, make_node, wait_until):
    node = make_node(node_file)
    app = make_app(node, reload=False)
    async with app.run_test(size=SIZE) as pilot:
        await _open_palette(pilot, app, wait_until)
        await pilot.press(*"filter the gossip")
        await wait_until(
            pilot,
            lambda: (
                next(iter(_palette_entries(app)), None) == "Filter the gossip exchanges"
            ),
            "the filter command as the best match",
        )
        await pilot.press("enter")
        await wait_until(
            pilot,
            lambda: app.focused is not None and app.focused.id == "traffic-filter",
            "the focus in the traffic filter",
        )


async def test_keys_screen_lists_every_key(node_file, make_node, wait_until):
    node = make_node(node_file)
    app = make_app(node, reload=False)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.snapshot is not None, "a first snapshot")
        await pilot.press("question_mark")
        await wait_until(
            pilot, lambda: isinstance(app.screen, KeysScreen), "the keys screen"
        )
        keys = app.screen.all_keys()
        for key in ("q, ctrl+q", "r", "p", "N", "1", "2", "3", "4", "?", "ctrl+p"):
            assert key in keys, key
        assert keys["a"] == ["Add a job from a name and a payload"]
        assert keys["t"][0] == "Run the selected failed job again as a new job"
        assert keys["u"][0].startswith("Take the selected assigned job")
        assert keys["c"][0].startswith("End the selected pending job")
        assert "Filter exchanges" in keys["f, /"]
        assert "Previous jobs tab" in keys["["]
        assert "Next jobs tab" in keys["]"]
        assert "Yes" in keys["y"]
        assert "No" in keys["n, esc"]
        assert "Add the job" in keys["ctrl+s"]
        assert "Retry failed job" in keys["t"]
        assert keys["F, A, P, D"][0].startswith("Show or hide failed, assigned")
        assert "Show only the jobs the selected peer owns" in keys["enter"]
        await pilot.press("escape")


async def test_ctrl_q_leaves_the_cluster(node_file, make_node, wait_until):
    node = make_node(node_file)
    app = make_app(node, reload=False)
    async with app.run_test(size=SIZE) as pilot:
        peer = make_node(node_file, bootstrap=[node.communication.listen_address])
        peer.start()

        def state_on_peer() -> str | None:
            for member in peer.snapshot().members:
                if member.node_id == node.node_id:
                    return member.state
            return None

        await wait_until(pilot, lambda: state_on_peer() == "alive", "the peer to join")
        await pilot.press("question_mark")
        await wait_until(
            pilot, lambda: isinstance(app.screen, KeysScreen), "the keys screen"
        )
        keys = app.screen.all_keys()
        assert keys["q, ctrl+q"] == ["Leave the cluster and exit"]
        assert "ctrl+q" not in keys
        assert "q" not in keys
        described = [text for texts in keys.values() for text in texts]
        assert not any("command prompt" in text for text in described)
        await pilot.press("escape")
        await wait_until(
            pilot, lambda: not isinstance(app.screen, KeysScreen), "keys screen closed"
        )

        await pilot.press("ctrl+q")
        await wait_until(pilot, lambda: not node.runtime.is_running, "the node to stop")
        await wait_until(pilot, lambda: not app.is_running, "the app to exit", 3.0)
    assert app.return_code == 0
    deadline = time.monotonic() + 10.0
    while state_on_peer() != "left":
        assert time.monotonic() < deadline, "the peer never saw the node leave"
        time.sleep(0.05)
