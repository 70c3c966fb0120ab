"""Processes, node logs and measurements shared by the ants and pyants runs.

The nodes log JSON lines and read commands from a control file, in the
format that benchmarks/nodes/cluster_node.py describes.
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

POLL_SECONDS = 0.1
"""Seconds between two reads of the node logs while waiting for an event."""


# Processes


def stop_processes(processes: list[subprocess.Popen], timeout: float = 5.0) -> None:
    """Send SIGTERM to each running process, then SIGKILL those left after `timeout`."""
    for process in processes:
        if process.poll() is None:
            try:
                os.kill(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + timeout
    for process in processes:
        try:
            process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()


def rss_mib(pid: int) -> float | None:
    """Return the resident set size of `pid` in MiB, from /proc/PID/status."""
    try:
        with open(f"/proc/{pid}/status") as file:
            for line in file:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


def cpu_seconds(pid: int) -> float | None:
    """Return the user plus system CPU seconds `pid` has used, from /proc/PID/stat."""
    try:
        with open(f"/proc/{pid}/stat") as file:
            text = file.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name may contain spaces; the numeric fields follow its ")".
    fields = text.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def rounded(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def error_lines(paths: list[Path], limit: int = 3) -> tuple[int, list[str]]:
    """Count warning, error and traceback lines in stderr files; return some samples."""
    count = 0
    samples: list[str] = []
    for path in paths:
        if not path.exists():
            continue
        for line in path.read_text(errors="replace").splitlines():
            if (
                "WARNING" in line
                or "ERROR" in line
                or "Error" in line
                or "Traceback" in line
            ):
                count += 1
                if len(samples) < limit:
                    samples.append(line.strip()[:200])
    return count, samples


# Node logs and control


class LogTail:
    """One node's JSON Lines log, read incrementally and indexed by event name."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.by_event: dict[str, list[dict]] = defaultdict(list)

    def poll(self) -> None:
        try:
            with open(self.path, "rb") as file:
                file.seek(self.offset)
                data = file.read()
        except FileNotFoundError:
            return
        complete = data.rfind(b"\n") + 1
        self.offset += complete
        for line in data[:complete].splitlines():
            try:
                event = json.loads(line)
            except ValueError:
                continue
            self.by_event[event.get("event", "?")].append(event)

    def last(self, name: str) -> dict | None:
        events = self.by_event.get(name)
        return events[-1] if events else None


@dataclass
class NodeGroup:
    """The processes of one cluster under test, logging as cluster_node.py does."""

    system: str
    processes: list[subprocess.Popen]
    tails: list[LogTail]
    stderr_paths: list[Path]
    control: Path
    started: float = field(default_factory=time.time)

    def __len__(self) -> int:
        return len(self.processes)

    def command(self, **fields: object) -> None:
        with open(self.control, "a") as file:
            file.write(json.dumps(fields) + "\n")

    def poll(self) -> None:
        for tail in self.tails:
            tail.poll()

    def events(self, name: str) -> list[tuple[int, dict]]:
        return [
            (index, event)
            for index, tail in enumerate(self.tails)
            for event in tail.by_event.get(name, [])
        ]

    def exited(self) -> list[int]:
        return [index for index, p in enumerate(self.processes) if p.poll() is not None]

    def wait(self, condition: Callable[[], bool], timeout: float) -> bool:
        """Poll the logs until `condition()` is true; return False after `timeout` s."""
        deadline = time.monotonic() + timeout
        while True:
            self.poll()
            if condition():
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(POLL_SECONDS)


# Measurements shared by ants and pyants


def wait_for_join(group: NodeGroup, timeout: float) -> float | None:
    """Return seconds from start until every node lists n - 1 live peers, or None."""
    needed = len(group) - 1

    def joined() -> bool:
        for tail in group.tails:
            status = tail.last("status")
            if status is None or status["alive"] < needed:
                return False
        return True

    if group.wait(joined, timeout):
        return time.time() - group.started
    return None


def measure_propagation(
    group: NodeGroup, probes: int, timeout: float, gap: float
) -> list[float | None]:
    """Create `probes` jobs on node 0 one after another; return each one's spread time.

    A spread time is the seconds from the creation on node 0 until the last
    other node first has the job, or None if some node did not within `timeout`.
    """
    spreads: list[float | None] = []
    for k in range(probes):
        group.command(cmd="probe", k=k)
        reached = group.wait(
            lambda k=k: (
                probe_creation(group, k) is not None
                and len(probe_sightings(group, k)) >= len(group) - 1
            ),
            timeout,
        )
        creation = probe_creation(group, k)
        if reached and creation is not None:
            spreads.append(max(probe_sightings(group, k)) - creation["t"])
        else:
            spreads.append(None)
        time.sleep(gap)
    return spreads


def count_reached(group: NodeGroup, total: int) -> int:
    """Count the nodes that logged holding at least `total` jobs."""
    return sum(1 for _, event in group.events("reached") if event["total"] == total)


def probe_creation(group: NodeGroup, k: int) -> dict | None:
    for event in group.tails[0].by_event.get("created", []):
        if event.get("kind") == "probe" and event["k"] == k:
            return event
    return None


def probe_sightings(group: NodeGroup, k: int) -> list[float]:
    return [event["t"] for _, event in group.events("seen") if event["k"] == k]


def measure_work(group: NodeGroup, count: int, timeout: float, settle: float) -> dict:
    """Create `count` trivial jobs on node 0 and time the cluster running them.

    `run_seconds` ends at the first run of the last job to start. Every later
    run of a job counts as a duplicate, however late it starts.
    """
    group.command(cmd="work", count=count)
    everyone_knows = group.wait(
        lambda: len(group.events("work_done")) >= len(group), timeout
    )
    # Runs that start after every node has the results are duplicates too.
    time.sleep(settle)
    group.poll()
    stopped = time.time()

    created = [
        e for e in group.tails[0].by_event.get("created", []) if e.get("kind") == "work"
    ]
    runs: Counter[str] = Counter()
    first_run: dict[str, float] = {}
    for _, event in group.events("ran"):
        runs[event["job"]] += 1
        first_run[event["job"]] = min(
            first_run.get(event["job"], event["t"]), event["t"]
        )

    start = created[-1]["t"] if created else None
    finished = max(first_run.values()) if first_run else None
    elapsed = finished - start if start is not None and finished is not None else None
    known = [event["t"] for _, event in group.events("work_done")]
    late_runs = sum(
        1 for _, event in group.events("ran") if event["t"] >= stopped - settle
    )

    return {
        "jobs": count,
        "jobs_run": len(runs),
        "all_nodes_know_all_results": everyone_knows,
        "run_seconds": rounded(elapsed),
        "jobs_per_second": rounded(len(runs) / elapsed, 1) if elapsed else None,
        "all_results_known_s": rounded(max(known) - start)
        if everyone_knows and start is not None
        else None,
        "duplicate_runs": sum(runs.values()) - len(runs),
        "max_runs_of_one_job": max(runs.values()) if runs else 0,
        "observed_s": rounded(stopped - start, 1) if start is not None else None,
        "runs_in_last_settle_s": late_runs,
    }


def measure_resources(processes: list[subprocess.Popen], since: float) -> dict:
    """Return the processes' RSS in MiB and mean CPU use since `since`, in cores."""
    rss = [value for value in (rss_mib(p.pid) for p in processes) if value is not None]
    wall = max(1e-6, time.time() - since)
    cpu = [
        value / wall
        for value in (cpu_seconds(p.pid) for p in processes)
        if value is not None
    ]
    return {
        "rss_mib_median": rounded(median(rss), 1),
        "rss_mib_max": rounded(max(rss), 1) if rss else None,
        "cpu_cores_per_node_median": rounded(median(cpu), 3),
        "cpu_cores_total": rounded(sum(cpu), 2),
    }


def summarize_spreads(spreads: list[float | None], interval: float) -> dict:
    reached = [s for s in spreads if s is not None]
    spread = median(reached)
    return {
        "probes": len(spreads),
        "probes_reaching_all": len(reached),
        "propagation_s_median": rounded(spread),
        "propagation_s_max": rounded(max(reached)) if reached else None,
        "propagation_intervals_median": rounded(spread / interval, 2)
        if spread
        else None,
    }


def wait_until(
    condition: Callable[[], bool], timeout: float, step: float = 0.2
) -> bool:
    """Call `condition` every `step` seconds until true; False after `timeout` s."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            return False
        time.sleep(step)
    return True
