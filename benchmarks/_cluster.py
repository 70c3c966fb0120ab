"""Starting and stopping local `ants run` processes for the benchmarks."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LocalNode:
    """One `ants run` process on 127.0.0.1."""

    index: int
    port: int
    log: Path
    data_dir: Path
    args: list[str]
    env: dict[str, str]
    process: subprocess.Popen | None = None
    kills: list[float] = field(default_factory=list)

    def start(self) -> None:
        """Start the process, unless this node's process is still running."""
        if self.process is not None and self.process.poll() is None:
            return
        stderr = open(self.log.with_suffix(".stderr"), "ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "ants.cli", "run", *self.args],
            env=self.env, stdout=subprocess.DEVNULL, stderr=stderr,
        )

    def kill(self) -> None:
        """Send SIGKILL to this node's own process."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait()
            self.kills.append(time.time())

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait()


def start_cluster(
    node_file: Path,
    count: int,
    workdir: Path,
    interval: float,
    extra_env: dict[str, str],
    creator_env: dict[str, str] | None = None,
    extra_args: list[str] | None = None,
) -> list[LocalNode]:
    """Start `count` nodes; node 0 is the bootstrap of the others."""
    nodes = []
    first_port = free_port()
    for index in range(count):
        port = first_port if index == 0 else free_port()
        log = workdir / f"node{index}.jsonl"
        data_dir = workdir / f"node{index}"
        args = [str(node_file), "--port", str(port), "--interval", str(interval),
                "--data-dir", str(data_dir), "--log-level", "WARNING", *(extra_args or [])]
        if index:
            args += ["--bootstrap", f"127.0.0.1:{first_port}"]
        env = dict(os.environ, ANTS_BENCH_LOG=str(log), **extra_env)
        if index == 0 and creator_env:
            env.update(creator_env)
        node = LocalNode(index, port, log, data_dir, args, env)
        node.start()
        nodes.append(node)
    return nodes


def read_events(path: Path) -> list[dict]:
    import json

    if not path.exists():
        return []
    events = []
    for line in path.read_text().splitlines():
        try:
            events.append(json.loads(line))
        except ValueError:
            continue
    return events
