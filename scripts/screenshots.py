"""Write SVG screenshots of ants-tui on a local three-node cluster into screenshots/.

Usage: python scripts/screenshots.py [--out screenshots]

The script writes a small demo node file to a temporary folder. It runs the
dashboard headless with its node and two more nodes of the same file in
this process, all on 127.0.0.1 with free ports. Once every job has ended it
saves the main view and a job's detail at 120x40, and the main view at 80x24.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

from ants.comm.socket import SocketCommunication
from ants.node.base import BaseNode
from ants.node.config import NodeConfig
from ants.node.job import JobStatus
from ants.node.loader import load_node_class
from ants.tui.app import make_app
from ants.tui.widgets.job_detail import JobDetailScreen
from ants.tui.widgets.jobs_panel import JobsPanel

DEMO_NODE = '''\
"""Count the primes below n for 60 values of n; multiples of 13000 fail."""

import logging

from ants import BaseNode, Job

logger = logging.getLogger("primes")


class PrimeCounter(BaseNode):
    def add_jobs(self):
        return [
            Job("count-primes", {"below": 1000 * n}, max_attempts=2)
            for n in range(1, 61)
        ]

    def do_jobs(self, jobs):
        for job in jobs:
            below = job.payload["below"]
            if below % 13000 == 0:
                job.set_error(f"ValueError: {below} is a multiple of 13000")
                continue
            sieve = bytearray([1]) * below
            sieve[:2] = b"\\0\\0"
            for k in range(2, int(below ** 0.5) + 1):
                if sieve[k]:
                    sieve[k * k :: k] = bytes(len(range(k * k, below, k)))
            job.set_result({"below": below, "primes": sum(sieve)})

    def completed_jobs(self, done_jobs):
        for job in done_jobs:
            if job.result is not None:
                logger.info("%d primes below %d", job.result["primes"],
                            job.result["below"])
'''

JOBS = 60
WAIT_SECONDS = 30.0


def build_node(path: Path, bootstrap: list[str]) -> BaseNode:
    node_class = load_node_class(path)
    communication = SocketCommunication(
        host="127.0.0.1", port=0, pull_interval=0.2, bootstrap_nodes=bootstrap
    )
    return node_class(NodeConfig.local(), communication)


async def wait_for(pilot, condition, description: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"screenshots: timed out waiting for {description}")
        await pilot.pause(0.1)


def all_ended(node: BaseNode) -> bool:
    snapshot = node.snapshot()
    ended = snapshot.count(JobStatus.DONE) + snapshot.count(JobStatus.FAILED)
    return ended == JOBS


async def capture(path: Path, out: Path, size: tuple[int, int], detail: bool) -> None:
    node = build_node(path, [])
    app = make_app(node, path=path)
    peers: list[BaseNode] = []
    try:
        async with app.run_test(size=size) as pilot:
            for _ in range(2):
                peer = build_node(path, [node.communication.listen_address])
                peer.start()
                peers.append(peer)
            await wait_for(
                pilot,
                lambda: sum(m.state == "alive" for m in node.snapshot().members) == 3,
                "three alive members",
            )
            await wait_for(pilot, lambda: all_ended(node), "every job to end")
            jobs = app.query_one(JobsPanel)
            jobs.show_status(JobStatus.DONE)
            jobs.focus_table()
            # Let the rates fill a few seconds of the sparkline.
            await pilot.pause(2.0)
            width, height = size
            app.save_screenshot(f"dashboard-{width}x{height}.svg", path=str(out))
            if detail:
                jobs.show_status(JobStatus.FAILED)
                await pilot.pause(0.3)
                jobs.focus_table()
                await pilot.press("enter")
                await wait_for(
                    pilot, lambda: isinstance(app.screen, JobDetailScreen), "the detail"
                )
                await pilot.pause(0.3)
                app.save_screenshot(f"job-detail-{width}x{height}.svg", path=str(out))
                await pilot.press("escape")
            await pilot.press("q")
            await pilot.pause(0.5)
    finally:
        for peer in peers:
            peer.shutdown(timeout=1.0)
        node.shutdown(timeout=1.0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("screenshots"),
        help="folder for the SVG files (default: screenshots)",
    )
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="ants-screenshots-") as folder:
        path = Path(folder) / "primes.py"
        path.write_text(DEMO_NODE)
        asyncio.run(capture(path, args.out, (120, 40), detail=True))
        asyncio.run(capture(path, args.out, (80, 24), detail=False))
    for svg in sorted(args.out.glob("*.svg")):
        print(svg)
    return 0


if __name__ == "__main__":
    sys.exit(main())
