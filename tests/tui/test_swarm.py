"""`--swarm`: child node processes that join the dashboard's node and stop with it."""

from __future__ import annotations

import os
import sys
import time

import pytest

from ants.tui.app import make_app
from ants.tui.logbuffer import LogBuffer
from ants.tui.swarm import Swarm

pytestmark = pytest.mark.slow


def _alive_members(node) -> int:
    return sum(1 for member in node.snapshot().members if member.state == "alive")


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_swarm_command_joins_through_bootstrap(tmp_path):
    swarm = Swarm(tmp_path / "n.py", 2, "127.0.0.1:9000", options=["--interval", "0.2"])

    command = swarm.command()

    assert command[:5] == [
        sys.executable,
        "-m",
        "ants.cli",
        "run",
        str(tmp_path / "n.py"),
    ]
    assert command[command.index("--bootstrap") + 1] == "127.0.0.1:9000"
    assert command[command.index("--host") + 1] == "127.0.0.1"
    assert command[command.index("--port") + 1] == "0"
    assert command[-2:] == ["--interval", "0.2"]


async def test_swarm_children_join_and_stop_on_quit(
    node_file, make_node, wait_until, tmp_path
):
    log_buffer = LogBuffer()
    log_buffer.install()
    node = make_node(node_file)
    node.start()
    swarm = Swarm(
        node_file,
        2,
        node.communication.listen_address,
        options=["--interval", "0.2"],
        log_dir=tmp_path / "swarm-logs",
    )
    swarm.start()
    try:
        app = make_app(node, path=node_file, swarm=swarm, log_buffer=log_buffer)
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_until(
                pilot,
                lambda: _alive_members(node) == 3,
                "3 alive members",
                timeout=20.0,
            )
            pids = swarm.pids
            assert len(pids) == 2
            log_text = "\n".join(app.query_one("#log-panel").plain_lines)
            for pid in pids:
                assert f"PID {pid}" in log_text

            await pilot.press("q")
            await wait_until(pilot, lambda: not app.is_running, "the app to exit", 3.0)

        deadline = time.monotonic() + 3.0
        while any(child.process.poll() is None for child in swarm.children):
            assert time.monotonic() < deadline, (
                "swarm children still running after quit"
            )
            time.sleep(0.05)
        for child in swarm.children:
            assert child.process.returncode == 0, child.log_path.read_text()[-2000:]
            assert not _process_exists(child.pid)
    finally:
        swarm.stop()
        log_buffer.uninstall()
