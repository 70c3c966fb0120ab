"""Shared test helpers: waiting on conditions, free ports, node processes."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

LOOPBACK = "127.0.0.1"


def wait_until(
    predicate: Callable[[], T],
    timeout: float = 10.0,
    interval: float = 0.05,
    message: str | Callable[[], str] = "condition",
) -> T:
    """Poll `predicate` until it returns a truthy value and return that value.

    Raises AssertionError naming `message` when `timeout` seconds pass first.
    `message` may be a callable, so the failure can show the latest state.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            text = message() if callable(message) else message
            raise AssertionError(f"timed out after {timeout:g}s waiting for {text}")
        time.sleep(interval)


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]


def read_json_lines(path: Path) -> list[dict[str, Any]]:
    """Return the complete JSON lines of `path`, or none for a missing file.

    A last line without its newline is skipped, because the writer may be
    in the middle of it.
    """
    try:
        text = path.read_text()
    except FileNotFoundError:
        return []
    lines = text.split("\n")[:-1]
    return [json.loads(line) for line in lines if line.strip()]


class NodeProcess:
    """A child process running `ants run`, with its stderr in a file."""

    def __init__(self, popen: subprocess.Popen, stderr_path: Path) -> None:
        self.popen = popen
        self.stderr_path = stderr_path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def stderr(self) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def poll(self) -> int | None:
        return self.popen.poll()

    def send_signal(self, signum: int) -> None:
        os.kill(self.pid, signum)

    def stop(self, timeout: float = 5.0) -> int:
        """Send SIGTERM, SIGKILL after `timeout` seconds, and return the exit code."""
        if self.popen.poll() is None:
            os.kill(self.pid, signal.SIGTERM)
            try:
                return self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
        return self.popen.wait()


class ProcessStarter:
    """Starts child processes and stops each one by its PID on `stop_all`."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.processes: list[NodeProcess] = []

    def start(
        self,
        args: list[str],
        env: dict[str, str] | None = None,
        name: str = "process",
    ) -> NodeProcess:
        stderr_path = self.folder / f"{name}-{len(self.processes)}.stderr"
        stdout_path = self.folder / f"{name}-{len(self.processes)}.stdout"
        full_env = dict(os.environ)
        # A cluster key from the developer's shell would change what the nodes send.
        full_env.pop("ANTS_SECRET", None)
        full_env["PYTHONUNBUFFERED"] = "1"
        full_env.update(env or {})
        with open(stdout_path, "wb") as stdout, open(stderr_path, "wb") as stderr:
            popen = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=stderr,
                env=full_env,
                cwd=self.folder,
            )
        process = NodeProcess(popen, stderr_path)
        self.processes.append(process)
        return process

    def start_node(
        self,
        node_file: Path,
        *options: str,
        env: dict[str, str] | None = None,
        name: str = "node",
    ) -> NodeProcess:
        """Start `python -m ants.cli run node_file *options`."""
        args = [sys.executable, "-m", "ants.cli", "run", str(node_file), *options]
        return self.start(args, env=env, name=name)

    def stop_all(self) -> None:
        for process in self.processes:
            process.stop()


LISTENING = re.compile(r"node ([0-9a-f]+) \((\w+)\) started, listening on (\S+)")

RECORDING_NODE_SOURCE = '''\
"""A node for process tests: doubles numbers and logs runs and reports as JSON lines.

Environment:
    ANTS_TEST_LOG: file that receives one JSON line per run and per report.
    ANTS_TEST_JOBS: number of jobs this node creates (default 0).
    ANTS_TEST_PEERS: alive peers this node waits for before creating jobs.
"""

import json
import re
import os
import threading

from ants import BaseNode, Job

LOG_PATH = os.environ["ANTS_TEST_LOG"]
JOB_COUNT = int(os.environ.get("ANTS_TEST_JOBS", "0"))
PEERS = int(os.environ.get("ANTS_TEST_PEERS", "0"))
_lock = threading.Lock()


def log(**fields):
    with _lock, open(LOG_PATH, "a") as output:
        output.write(json.dumps(fields) + "\\n")


class DoublingNode(BaseNode):
    created = False

    def add_jobs(self):
        if self.created or not JOB_COUNT:
            return []
        members = self.communication.members()
        alive = [m for m in members if not m.is_self and m.state == "alive"]
        if len(alive) < PEERS:
            return []
        self.created = True
        return [Job("double", {"n": n}) for n in range(JOB_COUNT)]

    def do_jobs(self, my_assigned_jobs):
        for job in my_assigned_jobs:
            log(event="run", node=self.node_id, job=job.id, attempt=job.attempt)
            job.set_result({"double": 2 * job.payload["n"]})

    def completed_jobs(self, done_jobs):
        for job in done_jobs:
            status = job.status.name
            log(event="completed", node=self.node_id, job=job.id, status=status)
'''


def write_node_file(folder: Path, source: str = RECORDING_NODE_SOURCE) -> Path:
    path = folder / "recording_node.py"
    path.write_text(source)
    return path


def wait_for_listening(process: NodeProcess, timeout: float = 20.0) -> tuple[str, str]:
    """Wait for the start line on stderr and return the node id and address in it."""

    def started() -> re.Match | None:
        if process.poll() is not None:
            code = process.poll()
            raise AssertionError(
                f"node process {process.pid} exited with {code}:\n{process.stderr()}"
            )
        return LISTENING.search(process.stderr())

    match = wait_until(
        started, timeout, message=lambda: f"the start line of PID {process.pid}"
    )
    return match.group(1), match.group(3)
