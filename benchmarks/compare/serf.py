"""HashiCorp Serf runs for cluster.py: user-event propagation and agent memory.

Uses the `serf` binary of Debian's package (0.9.4~ds1 in bookworm, which
reports itself as 0.8.2-dev). Every agent runs an event handler script that
appends its name and the time to one file, so propagation is timed with the
same clock as the ants nodes.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import time
from collections import defaultdict
from pathlib import Path

from _cluster import free_port
from compare.harness import (
    POLL_SECONDS,
    measure_resources,
    median,
    rounded,
    stop_processes,
    summarize_spreads,
    wait_until,
)

SERF_GOSSIP_INTERVAL = 0.2
"""Seconds between Serf gossip rounds with the default "lan" profile: memberlist's
DefaultLANConfig sets GossipInterval to 200 ms and GossipNodes to 3."""
SERF_GOSSIP_NODES = 3


def ensure_serf() -> str | None:
    """Return the serf binary, installing Debian's package when running as root."""
    found = shutil.which("serf")
    if found or os.geteuid() != 0 or not shutil.which("apt-get"):
        return found
    print("installing Debian's serf package", flush=True)
    subprocess.run(
        ["apt-get", "update", "-qq"],
        check=False,
        timeout=600,
        stdout=subprocess.DEVNULL,
    )
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "serf"],
        check=False,
        timeout=600,
        stdout=subprocess.DEVNULL,
    )
    return shutil.which("serf")


def serf_version(serf: str) -> str:
    output = subprocess.run(
        [serf, "version"], capture_output=True, text=True, timeout=10
    )
    package = subprocess.run(
        ["dpkg-query", "-W", "-f", "${Version}", "serf"],
        capture_output=True,
        text=True,
        timeout=10,
    )
    binary = output.stdout.splitlines()[0].strip() if output.stdout else "?"
    return f"{binary} (Debian package {package.stdout.strip() or '?'})"


def serf_alive_members(serf: str, rpc: str) -> int:
    output = subprocess.run(
        [serf, "members", f"-rpc-addr={rpc}", "-status=alive", "-format=json"],
        capture_output=True,
        text=True,
        timeout=10,
    )
    if output.returncode != 0:
        return 0
    return len(json.loads(output.stdout).get("members", []))


def read_serf_events(path: Path) -> dict[str, dict[str, float]]:
    """Return payload -> agent name -> first time the agent's handler ran for it."""
    seen: dict[str, dict[str, float]] = defaultdict(dict)
    if not path.exists():
        return seen
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) != 3:
            continue
        agent, when, payload = parts
        seen[payload].setdefault(agent, float(when))
    return seen


def start_serf_agents(
    serf: str, n: int, folder: Path, handler: Path, timeout: float
) -> tuple[list[subprocess.Popen], list[str]]:
    processes: list[subprocess.Popen] = []
    rpcs: list[str] = []
    first_bind = None
    try:
        for index in range(n):
            bind, rpc = free_port(), free_port()
            rpcs.append(f"127.0.0.1:{rpc}")
            command = [
                serf,
                "agent",
                f"-node=agent{index}",
                f"-bind=127.0.0.1:{bind}",
                f"-rpc-addr=127.0.0.1:{rpc}",
                f"-event-handler=user:probe={handler}",
                "-log-level=warn",
            ]
            if first_bind is not None:
                command.append(f"-join=127.0.0.1:{first_bind}")
            with open(folder / f"agent{index}.log", "ab") as log:
                processes.append(
                    subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
                )
            if first_bind is None:
                first_bind = bind
                # Later agents exit if their -join fails, so the first must be up.
                wait_until(lambda: serf_alive_members(serf, rpcs[0]) == 1, timeout)
    except BaseException:
        stop_processes(processes)
        raise
    return processes, rpcs


def run_serf_size(serf: str, args: argparse.Namespace, n: int, workdir: Path) -> dict:
    folder = workdir / f"serf-{n}"
    folder.mkdir()
    events = folder / "events.txt"
    handler = write_event_handler(folder / "handler.sh", events)
    started = time.time()
    processes, rpcs = start_serf_agents(serf, n, folder, handler, args.join_timeout)
    try:
        joined = wait_until(
            lambda: (
                serf_alive_members(serf, rpcs[0]) == n
                and serf_alive_members(serf, rpcs[-1]) == n
            ),
            args.join_timeout,
        )
        join_s = time.time() - started if joined else None
        spreads, from_send = time_serf_events(serf, rpcs[0], events, n, args)
        resources = measure_resources(processes, started)
        exited = [index for index, p in enumerate(processes) if p.poll() is not None]
    finally:
        stop_processes(processes)

    sends = [s for s in from_send if s is not None]
    return {
        "system": "serf",
        "version": serf_version(serf),
        "nodes": n,
        "interval_s": SERF_GOSSIP_INTERVAL,
        "fanout": SERF_GOSSIP_NODES,
        "profile": "lan",
        "join_s": rounded(join_s, 2),
        **summarize_spreads(spreads, SERF_GOSSIP_INTERVAL),
        "spreads_s": [rounded(s) for s in spreads],
        "propagation_from_cli_s_median": rounded(median(sends)),
        **resources,
        "exited_early": exited,
    }


def write_event_handler(handler: Path, events: Path) -> Path:
    handler.write_text(
        "#!/bin/sh\n"
        "# Serf runs this for each user event named probe, with the payload on stdin.\n"
        'printf "%s %s %s\\n" "$SERF_SELF_NAME" "$(date +%s.%N)" "$(cat)" \\\n'
        f"    >> {events}\n"
    )
    handler.chmod(0o755)
    return handler


def time_serf_events(
    serf: str, rpc: str, events: Path, n: int, args: argparse.Namespace
) -> tuple[list[float | None], list[float | None]]:
    """Send `args.probes` user events through one agent and time their spread.

    Returns, per event, the seconds from the sending agent's handler run to
    the last agent's, and from the `serf event` call to the last agent's; None
    where some agent did not run its handler within `args.probe_timeout`.
    """
    spreads: list[float | None] = []
    from_send: list[float | None] = []
    for k in range(args.probes):
        payload = f"k{k}"
        sent = time.time()
        command = [
            serf,
            "event",
            "-coalesce=false",
            f"-rpc-addr={rpc}",
            "probe",
            payload,
        ]
        subprocess.run(command, check=True, capture_output=True, timeout=10)
        reached = wait_until(
            lambda payload=payload: len(read_serf_events(events)[payload]) >= n,
            args.probe_timeout,
            step=POLL_SECONDS,
        )
        seen = read_serf_events(events)[payload]
        if reached and "agent0" in seen:
            spreads.append(max(seen.values()) - seen["agent0"])
            from_send.append(max(seen.values()) - sent)
        else:
            spreads.append(None)
            from_send.append(None)
        time.sleep(args.probe_gap)
    return spreads, from_send
