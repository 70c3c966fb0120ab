"""Helpers for dashboard tests: node files on disk, real nodes, deadline waits."""

from __future__ import annotations

import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ants.comm.socket import SocketCommunication
from ants.node.base import BaseNode
from ants.node.config import NodeConfig
from ants.node.loader import load_node_class

INTERVAL = 0.2
"""Beat and gossip interval of test nodes, in seconds."""

NODE_TEMPLATE = '''\
import logging

from ants import BaseNode, Job

VERSION = {version!r}
JOBS = {jobs}
logger = logging.getLogger("counting")


class CountingNode(BaseNode):
    """Create one job per beat until JOBS exist; each result names VERSION."""

    def add_jobs(self):
        jobs_made = getattr(self, "jobs_made", 0)
        if jobs_made >= JOBS:
            return []
        self.jobs_made = jobs_made + 1
        return [Job("count", {{"n": jobs_made}})]

    def do_jobs(self, jobs):
        for job in jobs:
            job.set_result({{"version": VERSION, "n": job.payload["n"]}})

    def completed_jobs(self, done):
        logger.info("completed %d job(s)", len(done))
{extra}'''


def _node_source(version: str = "v1", jobs: int = 10, extra: str = "") -> str:
    return NODE_TEMPLATE.format(
        version=version, jobs=jobs, extra=textwrap.dedent(extra)
    )


@pytest.fixture
def node_source() -> Callable[..., str]:
    """Return a function that renders a node file whose results carry `version`."""
    return _node_source


@pytest.fixture
def node_file(tmp_path: Path) -> Path:
    """A node file that makes 10 jobs, alone in its folder for the reload watcher."""
    folder = tmp_path / "nodes"
    folder.mkdir()
    path = folder / "counting.py"
    path.write_text(_node_source())
    return path


@pytest.fixture
def make_node() -> Iterator[Callable[..., BaseNode]]:
    """Return a builder of nodes on 127.0.0.1 port 0; all are shut down at the end.

    The builder takes the node file, optional bootstrap addresses and
    NodeConfig.local() overrides, and returns the node not yet started.
    """
    built: list[BaseNode] = []

    def build(
        path: Path, bootstrap: list[str] | None = None, **config: object
    ) -> BaseNode:
        node_class = load_node_class(path)
        communication = SocketCommunication(
            host="127.0.0.1",
            port=0,
            pull_interval=INTERVAL,
            bootstrap_nodes=bootstrap or [],
        )
        node = node_class(NodeConfig.local(**config), communication)
        built.append(node)
        return node

    yield build
    for node in built:
        node.shutdown(timeout=1.0)


async def _wait_until(
    pilot, condition: Callable[[], object], description: str, timeout: float = 15.0
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {description}")
        await pilot.pause(0.1)


@pytest.fixture
def wait_until() -> Callable:
    """Return the coroutine function `wait_until(pilot, condition, description)`.

    Awaiting it lets the app run in steps of 0.1 s until `condition()` is
    true, and fails the test, naming `description`, when its `timeout`
    (15 s unless given) passes first.
    """
    return _wait_until
