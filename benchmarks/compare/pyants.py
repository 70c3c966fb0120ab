"""pyants 0.3.0 runs for cluster.py: propagation, duplicate runs and largest state.

pyants is installed from PyPI into a virtual environment outside the
repository, because it imports as `ants` too. Its nodes run
benchmarks/compare/pyants_node.py with that environment's Python.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from _cluster import free_port
from compare.harness import (
    LogTail,
    NodeGroup,
    count_reached,
    error_lines,
    measure_propagation,
    measure_resources,
    measure_work,
    rounded,
    stop_processes,
    summarize_spreads,
    wait_for_join,
)

PYANTS_NODE = Path(__file__).resolve().parent / "pyants_node.py"
PYANTS_VERSION = "0.3.0"
PYANTS_TEST_PORT = 34688
"""A port pyants 0.3.0 treats as a test peer at 127.0.0.2; the runs never use it."""


def ensure_pyants(venv: Path) -> Path:
    """Return the Python of a venv with pyants 0.3.0; create it if missing."""
    python = venv / "bin" / "python"
    check = [
        str(python),
        "-c",
        "import importlib.metadata as m; print(m.version('pyants'))",
    ]
    if python.exists():
        found = subprocess.run(check, capture_output=True, text=True, timeout=60)
        if found.stdout.strip() == PYANTS_VERSION:
            return python
    print(f"installing pyants {PYANTS_VERSION} into {venv}", flush=True)
    subprocess.run(
        [sys.executable, "-m", "venv", "--clear", str(venv)], check=True, timeout=300
    )
    subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            f"pyants=={PYANTS_VERSION}",
        ],
        check=True,
        timeout=600,
    )
    found = subprocess.run(check, capture_output=True, text=True, timeout=60)
    if found.stdout.strip() != PYANTS_VERSION:
        raise RuntimeError(
            f"pyants {PYANTS_VERSION} not found in {venv} after installing: "
            f"{found.stdout.strip() or found.stderr.strip()}"
        )
    return python


def pyants_port() -> int:
    port = free_port()
    while port == PYANTS_TEST_PORT:
        port = free_port()
    return port


def start_pyants_group(
    python: Path, n: int, folder: Path, interval: float
) -> NodeGroup:
    """Start n pyants nodes; node 0 bootstraps from node 1 and the others from node 0.

    pyants 0.3.0's pull thread ends with a ValueError on its first round when
    its peer set is empty, so node 0 is given node 1 as its bootstrap peer too.
    """
    control = folder / "control.jsonl"
    control.touch()
    ports = [pyants_port() for _ in range(n)]
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env.update({"ANTS_BENCH_CONTROL": str(control), "ANTS_BENCH_TAG": folder.name})
    processes, tails, stderr_paths = [], [], []
    try:
        for index, port in enumerate(ports):
            bootstrap = ports[1] if index == 0 else ports[0]
            log = folder / f"node{index}.jsonl"
            stderr_path = log.with_suffix(".stderr")
            node_env = dict(
                env,
                ANTS_BENCH_LOG=str(log),
                ANTS_BENCH_CREATE="1" if index == 0 else "0",
            )
            with open(stderr_path, "ab") as stderr:
                processes.append(
                    subprocess.Popen(
                        [
                            str(python),
                            str(PYANTS_NODE),
                            "--port",
                            str(port),
                            "--bootstrap",
                            f"127.0.0.1:{bootstrap}",
                            "--interval",
                            str(interval),
                        ],
                        env=node_env,
                        cwd=folder,
                        stdout=subprocess.DEVNULL,
                        stderr=stderr,
                    )
                )
            tails.append(LogTail(log))
            stderr_paths.append(stderr_path)
    except BaseException:
        stop_processes(processes)
        raise
    return NodeGroup("pyants", processes, tails, stderr_paths, control)


def run_pyants_size(
    python: Path, args: argparse.Namespace, n: int, workdir: Path
) -> dict:
    folder = workdir / f"pyants-{n}"
    folder.mkdir()
    group = start_pyants_group(python, n, folder, args.interval)
    try:
        join_s = wait_for_join(group, args.join_timeout)
        spreads = measure_propagation(
            group, args.probes, args.probe_timeout, args.probe_gap
        )
        work = measure_work(
            group, args.pyants_work_jobs, args.pyants_work_timeout, settle=3.0
        )
        resources = measure_resources(group.processes, group.started)
        group.poll()
        threads_down = stopped_pull_threads(group)
        exited = group.exited()
        warnings, samples = error_lines(group.stderr_paths)
    finally:
        stop_processes(group.processes)
    return {
        "system": "pyants",
        "version": PYANTS_VERSION,
        "nodes": n,
        "interval_s": args.interval,
        "fanout": 1,
        "join_s": rounded(join_s, 2),
        **summarize_spreads(spreads, args.interval),
        "spreads_s": [rounded(s) for s in spreads],
        **work,
        **resources,
        "pull_threads_stopped": threads_down,
        "exited_early": exited,
        "stderr_warnings": warnings,
        "stderr_samples": samples,
    }


def stopped_pull_threads(group: NodeGroup) -> int:
    """Count the nodes whose latest status reports that their pull thread ended."""
    statuses = [tail.last("status") for tail in group.tails]
    return sum(1 for s in statuses if s is not None and not s["pull_thread_alive"])


def run_pyants_max_state(python: Path, args: argparse.Namespace, workdir: Path) -> dict:
    """Grow the state created on node 0 until it stops reaching every node in time."""
    n = args.delta_nodes
    folder = workdir / f"pyants-state-{n}"
    folder.mkdir()
    group = start_pyants_group(python, n, folder, args.interval)
    steps = []
    largest = None
    failed_at = None
    try:
        wait_for_join(group, args.join_timeout)
        loaded = 0
        for count in sorted(args.pyants_counts):
            group.command(
                cmd="load", start=loaded, count=count - loaded, expect_total=count
            )
            requested = time.time()
            synced = group.wait(
                lambda count=count: count_reached(group, count) >= n,
                args.pyants_step_timeout,
            )
            reached = [
                e["t"] for _, e in group.events("reached") if e["total"] == count
            ]
            steps.append(
                {
                    "jobs": count,
                    "nodes_reached": len(reached),
                    "sync_s": rounded(max(reached) - requested, 2) if synced else None,
                }
            )
            loaded = count
            if not synced:
                failed_at = count
                break
            largest = count
        group.poll()
        threads_down = stopped_pull_threads(group)
        warnings, samples = error_lines(group.stderr_paths)
    finally:
        stop_processes(group.processes)
    return {
        "system": "pyants",
        "version": PYANTS_VERSION,
        "nodes": n,
        "interval_s": args.interval,
        "step_timeout_s": args.pyants_step_timeout,
        "largest_synced_jobs": largest,
        "failed_at_jobs": failed_at,
        "steps": steps,
        "pull_threads_stopped": threads_down,
        "stderr_warnings": warnings,
        "stderr_samples": samples,
    }
