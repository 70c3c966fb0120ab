"""Write SVG screenshots of ants-tui's main views into screenshots/.

Usage: python scripts/screenshots.py [--out screenshots] [--skip-cluster]

First, the dashboard runs headless on a real cluster: the uptime monitor
example as three nodes on 127.0.0.1, this process's node and two `ants run`
child processes, with 2-second slots. After its first checks, one child is
stopped, so the view shows a node that left and the alert raised for it.
These files differ at each run:

    cluster-120x40.svg          the main view of the three-node cluster
    cluster-alert-120x40.svg    the detail of the alert job

Then it runs on the fake node of the snapshot tests (tests/tui/fakes.py): a
fixed snapshot with peers in every state, jobs in every status, traffic and
log lines, shown with a frozen clock in UTC. These files change only when the
dashboard's look does:

    dashboard-120x40.svg   the main view
    job-detail-120x40.svg  the detail of a failed job
    keys-120x40.svg        the keys screen (?)
    dashboard-80x24.svg    the compact layout of a small terminal
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ants.node.job import JobStatus  # noqa: E402
from ants.options import build_node  # noqa: E402
from ants.tui.app import make_app  # noqa: E402
from ants.tui.cli import make_parser, start_swarm  # noqa: E402
from ants.tui.widgets import JobsPanel  # noqa: E402
from ants.tui.widgets.jobs_panel import LABEL_INTERVAL  # noqa: E402
from ants.tui.widgets.job_detail import JobDetailScreen  # noqa: E402
from tests.tui.fakes import (  # noqa: E402
    FrozenClock,
    build_fixed_app,
    fixed_conditions,
    open_job_detail,
    open_keys,
    settle,
)

Step = Callable[..., Awaitable[None]]

VIEWS: tuple[tuple[str, tuple[int, int], Step], ...] = (
    ("dashboard-120x40.svg", (120, 40), settle),
    ("job-detail-120x40.svg", (120, 40), open_job_detail),
    ("keys-120x40.svg", (120, 40), open_keys),
    ("dashboard-80x24.svg", (80, 24), settle),
)
"""File name, terminal size and the step that opens the view, for each screenshot."""


async def capture(filename: str, size: tuple[int, int], step: Step, out: Path) -> None:
    clock = FrozenClock()
    with fixed_conditions():
        app = build_fixed_app(clock)
        async with app.run_test(size=size) as pilot:
            await step(pilot)
            app.save_screenshot(filename, path=str(out))


MONITOR = ROOT / "examples" / "monitor" / "monitor.py"
CLUSTER_SIZE = (120, 40)
CLUSTER_SLOT_SECONDS = "2"
CLUSTER_TIMEOUT = 90.0
"""Seconds the cluster may take to reach each state the screenshots show."""


async def wait_for(pilot, condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + CLUSTER_TIMEOUT
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(
                f"screenshots: timed out after {CLUSTER_TIMEOUT:.0f}s waiting "
                f"for {what} on the monitor cluster"
            )
        await pilot.pause(0.2)


def alive_peers(node) -> int:
    members = node.snapshot().members
    return sum(
        1 for member in members if member.state == "alive" and not member.is_self
    )


def count_done(node, name: str) -> int:
    return sum(
        1
        for record in node.snapshot().jobs
        if record.name == name and record.status is JobStatus.DONE
    )


async def capture_cluster(out: Path) -> list[Path]:
    """Run the monitor example as three local nodes and capture two views."""
    os.environ["ANTS_MONITOR_SLOT"] = CLUSTER_SLOT_SECONDS
    os.environ["ANTS_MONITOR_ALERTS"] = str(out / ".cluster-alerts.log")
    args = make_parser().parse_args(
        [str(MONITOR), "--swarm", "3", "--interval", "0.5", "--no-reload"]
    )
    setup = build_node(args)
    node = setup.node
    node.start()
    swarm = None
    written = []
    try:
        swarm = start_swarm(args, node)
        app = make_app(
            node,
            path=setup.path,
            class_name=setup.class_name,
            reload=False,
            swarm=swarm,
        )
        async with app.run_test(size=CLUSTER_SIZE) as pilot:
            await wait_for(pilot, lambda: alive_peers(node) == 2, "two peers")
            await wait_for(pilot, lambda: count_done(node, "check") >= 9, "checks")
            swarm.children[-1].process.terminate()
            await wait_for(pilot, lambda: count_done(node, "alert") >= 1, "alert")
            # A live cluster never stops changing, so wait out the tab
            # labels' one-second update instead of waiting for a still screen.
            await pilot.pause(LABEL_INTERVAL + 0.5)
            app.save_screenshot("cluster-120x40.svg", path=str(out))
            written.append(out / "cluster-120x40.svg")

            alert = next(
                record.id
                for record in node.snapshot().jobs
                if record.name == "alert" and record.status is JobStatus.DONE
            )
            app.query_one(JobsPanel).post_message(JobsPanel.JobSelected(alert))
            await wait_for(
                pilot, lambda: isinstance(app.screen, JobDetailScreen), "job detail"
            )
            await pilot.pause(LABEL_INTERVAL + 0.5)
            app.save_screenshot("cluster-alert-120x40.svg", path=str(out))
            written.append(out / "cluster-alert-120x40.svg")
    finally:
        node.shutdown()
        if swarm is not None:
            swarm.stop()
        (out / ".cluster-alerts.log").unlink(missing_ok=True)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out",
        type=Path,
        default=ROOT / "screenshots",
        help="folder for the SVG files (default: screenshots/ in the repository)",
    )
    parser.add_argument(
        "--skip-cluster",
        action="store_true",
        help="write only the views of the fake node, without starting a cluster",
    )
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    if not args.skip_cluster:
        for path in asyncio.run(capture_cluster(args.out)):
            print(path)
    for filename, size, step in VIEWS:
        asyncio.run(capture(filename, size, step, args.out))
        print(args.out / filename)
    return 0


if __name__ == "__main__":
    sys.exit(main())
