"""Extra local nodes of the same file, run as `ants run` child processes.

`ants-tui FILE --swarm N` starts N-1 of them so one command gives a small
cluster to watch. Each child joins through the dashboard's node, writes its
log to a file of its own (its stderr would draw over the dashboard), and is
stopped by its PID when the dashboard exits.
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ants.cli import PARENT_PID_ENV

logger = logging.getLogger(__name__)

MAX_SWARM = 64
"""Largest --swarm accepted. Every child is a full Python process, so a
larger number is more likely a typo than a plan."""

TERMINATE_GRACE = 2.0
"""Seconds children get to leave the cluster after SIGTERM before SIGKILL."""


def swarm_size(text: str) -> int:
    """Parse the --swarm value: the number of nodes in total, this one included."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"invalid node count {text!r}: expected a whole number such as 3"
        ) from None
    if not 1 <= value <= MAX_SWARM:
        raise argparse.ArgumentTypeError(
            f"invalid node count {value}: use 1..{MAX_SWARM}, the total number "
            "of local nodes with this one included"
        )
    return value


@dataclass
class SwarmChild:
    """One child node process and the file its output goes to."""

    process: subprocess.Popen
    log_path: Path
    reported_exit: bool = False

    @property
    def pid(self) -> int:
        return self.process.pid


class Swarm:
    """Start, watch and stop `count` child nodes of `file`.

    Args:
        file: The node file, passed to `ants run`.
        count: Child processes to start.
        bootstrap: host:port the children join through.
        options: More `ants run` options for every child, such as
            ["--interval", "0.2"].
        log_dir: Folder for the children's log files; a new temporary folder
            when None.
    """

    def __init__(
        self,
        file: str | Path,
        count: int,
        bootstrap: str,
        *,
        options: Sequence[str] = (),
        log_dir: str | Path | None = None,
    ) -> None:
        if count < 0:
            raise ValueError(f"count must be 0 or more, got {count}")
        self.file = Path(file).resolve()
        self.count = count
        self.bootstrap = bootstrap
        self.options = list(options)
        self._log_dir = Path(log_dir) if log_dir is not None else None
        self.children: list[SwarmChild] = []

    @property
    def pids(self) -> list[int]:
        return [child.pid for child in self.children]

    @property
    def log_dir(self) -> Path:
        if self._log_dir is None:
            self._log_dir = Path(tempfile.mkdtemp(prefix="ants-tui-swarm-"))
        self._log_dir.mkdir(parents=True, exist_ok=True)
        return self._log_dir

    def command(self) -> list[str]:
        """Return the command line of one child."""
        return [
            sys.executable,
            "-m",
            "ants.cli",
            "run",
            str(self.file),
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--bootstrap",
            self.bootstrap,
            "--reload",
            *self.options,
        ]

    def start(self) -> list[int]:
        """Start the children and return their PIDs.

        Raises OSError when a process cannot be started; the children started
        before it are stopped first.
        """
        command = self.command()
        try:
            for index in range(self.count):
                log_path = self.log_dir / f"node-{index + 1}.log"
                with open(log_path, "ab") as log_file:
                    # start_new_session keeps a Ctrl+C in the terminal from
                    # reaching the children; they are stopped by PID instead.
                    process = subprocess.Popen(
                        command,
                        env={**os.environ, PARENT_PID_ENV: str(os.getpid())},
                        stdin=subprocess.DEVNULL,
                        stdout=log_file,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                self.children.append(SwarmChild(process, log_path))
                logger.info(
                    "swarm node %d of %d started as PID %d, logging to %s",
                    index + 2,
                    self.count + 1,
                    process.pid,
                    log_path,
                )
        except OSError:
            self.stop()
            raise
        return self.pids

    def terminate(self) -> None:
        """Send SIGTERM to every child still running; do not wait."""
        for child in self.children:
            if child.process.poll() is None:
                child.process.terminate()

    def stop(self, grace: float = TERMINATE_GRACE) -> None:
        """Stop every child and reap it.

        Each child gets SIGTERM, and SIGKILL if it still runs `grace` seconds later.
        """
        self.terminate()
        deadline = time.monotonic() + grace
        for child in self.children:
            remaining = max(0.0, deadline - time.monotonic())
            try:
                child.process.wait(remaining)
            except subprocess.TimeoutExpired:
                logger.warning(
                    "swarm node PID %d still runs %.1fs after SIGTERM; sending SIGKILL",
                    child.pid,
                    grace,
                )
                child.process.kill()
                child.process.wait()
        if self.children:
            logger.info("stopped swarm nodes %s", ", ".join(map(str, self.pids)))

    def newly_exited(self) -> list[SwarmChild]:
        """Return the children that exited since the previous call."""
        exited = []
        for child in self.children:
            if not child.reported_exit and child.process.poll() is not None:
                child.reported_exit = True
                exited.append(child)
        return exited
