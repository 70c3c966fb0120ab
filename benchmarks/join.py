"""A node joining a loaded cluster: time until it has the whole state, and the cost.

Starts --nodes `ants run` processes on 127.0.0.1 (benchmarks/nodes/cluster_node.py),
loads --load-jobs jobs that no node claims on node 0, and waits until every
node has them and no node has sent a record for --quiet-seconds. That first
part is the initial sync of cluster.py's delta test. Then one more node joins
with node 0 as its bootstrap, and the script measures:

- seconds from starting the new process until it holds every job, and from
  its first beat (it logs "start") until then;
- records sent by all nodes during the join, divided by the records the new
  node needed, and the same ratio for the initial sync;
- the largest frame any node encoded, next to the frame cap;
- the new node's longest gap between two status lines during the join, to
  show that its beat kept running while it took the state in, and the CPU
  seconds it had used when it held every job.

Figures are printed and appended as JSON lines to benchmarks/results/join.jsonl.

    python benchmarks/join.py                 # 4 nodes + 1, 100,000 jobs
    python benchmarks/join.py --load-jobs 20000
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _cluster import LocalNode, free_port  # noqa: E402
from cluster import (  # noqa: E402
    ANTS_NODE,
    git_commit,
    machine_info,
    start_ants_group,
    status_at,
    wait_for_quiet,
)
from compare.harness import (  # noqa: E402
    LogTail,
    NodeGroup,
    count_reached,
    cpu_seconds,
    error_lines,
    rounded,
    stop_processes,
    wait_for_join,
)

from ants.comm.wire import MAX_FRAME_BYTES, MAX_RECORDS_PER_FRAME  # noqa: E402

RESULTS = HERE / "results" / "join.jsonl"


def records_sent(tails: list[LogTail], start: float, end: float) -> int:
    """Sum the records every node sent between two wall-clock times."""
    total = 0
    for tail in tails:
        after = status_at(tail, end, after=False)
        if after is None:
            continue
        before = status_at(tail, start, after=False)
        total += after["records_out"] - (before["records_out"] if before else 0)
    return total


def start_joiner(group: NodeGroup, folder: Path, interval: float, fanout: int, bootstrap: int) -> LocalNode:
    """Start one more node with node 0 as its bootstrap, logging like the others."""
    index = len(group)
    log = folder / f"node{index}.jsonl"
    args = [
        str(ANTS_NODE), "--port", str(free_port()), "--interval", str(interval),
        "--data-dir", str(folder / f"node{index}"), "--log-level", "WARNING",
        "--fanout", str(fanout), "--bootstrap", f"127.0.0.1:{bootstrap}",
    ]
    env = dict(
        os.environ,
        ANTS_BENCH_LOG=str(log),
        ANTS_BENCH_CONTROL=str(group.control),
        ANTS_BENCH_TAG=folder.name,
        ANTS_BENCH_STATUS=str(interval),
    )
    node = LocalNode(index, 0, log, folder / f"node{index}", args, env)
    node.start()
    group.processes.append(node.process)
    group.tails.append(LogTail(log))
    group.stderr_paths.append(log.with_suffix(".stderr"))
    return node


def run(args: argparse.Namespace, workdir: Path) -> dict:
    folder = workdir / f"ants-join-{args.nodes}"
    folder.mkdir()
    group = start_ants_group(args.nodes, folder, args, status_every=args.interval)
    figures: dict = {"nodes_before": args.nodes, "load_jobs": args.load_jobs}
    try:
        figures["join_s"] = rounded(wait_for_join(group, args.timeout), 2)
        figures.update(measure_initial_sync(group, args))
        figures.update(measure_join(group, args, folder))
        figures.update(frame_figures(group))
        figures["exited_early"] = group.exited()
        figures["stderr_warnings"], figures["stderr_samples"] = error_lines(group.stderr_paths)
    finally:
        stop_processes(group.processes)
    return figures


def measure_initial_sync(group: NodeGroup, args: argparse.Namespace) -> dict:
    """Load the jobs on node 0 and time their sync to the other first nodes."""
    load = args.load_jobs
    figures: dict = {}
    group.command(cmd="load", count=load, expect_total=load)
    synced = group.wait(lambda: count_reached(group, load) >= args.nodes, args.timeout)
    figures["initial_synced"] = synced
    if not synced:
        return figures
    created = next(e for e in group.tails[0].by_event.get("created", []))
    initial_end = max(e["t"] for _, e in group.events("reached") if e["total"] == load)
    figures["initial_sync_s"] = rounded(initial_end - created["t"], 2)
    quiet = wait_for_quiet(group, args.quiet_seconds, args.timeout)
    if quiet is not None:
        sent = records_sent(group.tails, 0.0, quiet)
        figures["initial_records_sent_per_needed"] = rounded(
            sent / ((args.nodes - 1) * load), 2
        )
    return figures


def measure_join(group: NodeGroup, args: argparse.Namespace, folder: Path) -> dict:
    """Start one more node and time, and count the records of, its sync."""
    load = args.load_jobs
    figures: dict = {}
    joined_at = time.time()
    port = int(group.processes[0].args[group.processes[0].args.index("--port") + 1])
    joiner_process = start_joiner(group, folder, args.interval, args.fanout, port).process
    joiner = group.tails[-1]
    joined = group.wait(
        lambda: any(e["total"] == load for e in joiner.by_event.get("reached", [])),
        args.timeout,
    )
    figures["joined"] = joined
    # Read right after the log showed the full state, so it includes a
    # poll interval of the time after.
    figures["joiner_cpu_s"] = cpu_seconds(joiner_process.pid)
    if not joined:
        return figures

    reached = next(e for e in joiner.by_event["reached"] if e["total"] == load)
    started = joiner.last("start")
    figures["join_sync_s"] = rounded(reached["t"] - joined_at, 2)
    figures["join_sync_after_start_s"] = rounded(reached["t"] - started["t"], 2)
    statuses = [s for s in joiner.by_event.get("status", []) if s["t"] <= reached["t"]]
    gaps = [b["t"] - a["t"] for a, b in zip(statuses, statuses[1:])]
    figures["joiner_status_gap_max_s"] = rounded(max(gaps), 2) if gaps else None
    figures["joiner_beats_during_sync"] = statuses[-1]["beat"] if statuses else None
    behind = [s.get("sync_behind") for s in statuses if s.get("sync_behind")]
    figures["joiner_sync_behind_max"] = max(behind) if behind else 0

    # Sends show in the logs only once their exchange ends, so a quiet spell
    # counts from after this wait, not from before the join.
    time.sleep(args.quiet_seconds)
    join_quiet = wait_for_quiet(group, args.quiet_seconds, args.timeout)
    if join_quiet is not None:
        sent = records_sent(group.tails, joined_at, join_quiet)
        figures["join_records_sent"] = sent
        figures["join_records_sent_per_needed"] = rounded(sent / load, 2)
    return figures


def frame_figures(group: NodeGroup) -> dict:
    """Return the largest frame any node encoded, next to the caps."""
    statuses = [t.last("status") for t in group.tails if t.last("status")]
    return {
        "frame_max_bytes_seen": max(s["frame_max_bytes"] for s in statuses),
        "frame_max_records_seen": max(s["frame_max_records"] for s in statuses),
        "frame_cap_bytes": MAX_FRAME_BYTES,
        "frame_cap_records": MAX_RECORDS_PER_FRAME,
        "frames_over_cap": sum(s["frames_too_large"] for s in statuses),
    }


def print_figures(figures: dict) -> None:
    load = figures["load_jobs"]
    print(f"join: {figures['nodes_before']} nodes holding {load:,} unclaimed jobs, one more joins")
    print(f"  initial sync to the first nodes: {figures.get('initial_sync_s')} s, "
          f"records sent / needed {figures.get('initial_records_sent_per_needed')}")
    print(f"  joining node holds all jobs after {figures.get('join_sync_s')} s "
          f"({figures.get('join_sync_after_start_s')} s after its first beat)")
    print(f"  records sent for the join / needed: {figures.get('join_records_sent_per_needed')}")
    print(f"  joining node: {figures.get('joiner_beats_during_sync')} beats meanwhile, longest "
          f"gap between status lines {figures.get('joiner_status_gap_max_s')} s, "
          f"max records behind {figures.get('joiner_sync_behind_max')}, "
          f"{figures.get('joiner_cpu_s')} CPU seconds used by then")
    print(f"  largest frame: {figures['frame_max_bytes_seen']:,} bytes "
          f"({figures['frame_max_records_seen']:,} records); cap {figures['frame_cap_bytes']:,} "
          f"bytes, {figures['frame_cap_records']:,} records; over the cap: "
          f"{figures['frames_over_cap']}")
    if figures["exited_early"] or figures["stderr_warnings"]:
        print(f"  exited early: {figures['exited_early']}, stderr warnings: "
              f"{figures['stderr_warnings']} {figures['stderr_samples']}")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=4,
                        help="nodes holding the jobs before one more joins (default: 4)")
    parser.add_argument("--load-jobs", type=int, default=100_000,
                        help="unclaimed jobs created on node 0 (default: 100000)")
    parser.add_argument("--interval", type=float, default=0.2,
                        help="gossip interval in seconds (default: 0.2)")
    parser.add_argument("--fanout", type=int, default=3,
                        help="peers contacted per round (default: 3)")
    parser.add_argument("--quiet-seconds", type=float, default=3.0,
                        help="seconds without records sent that end a sync (default: 3)")
    parser.add_argument("--timeout", type=float, default=300.0,
                        help="seconds each step may take (default: 300)")
    parser.add_argument("--workdir", type=Path,
                        help="folder for node logs, kept after the run (default: a temp folder)")
    parser.add_argument("--out", type=Path, default=RESULTS,
                        help=f"JSON Lines file to append to (default: {RESULTS})")
    args = parser.parse_args()
    if args.nodes < 1 or args.load_jobs < 1:
        parser.error("--nodes and --load-jobs must be at least 1")
    return args


def main() -> int:
    args = parse_args()
    began = time.time()
    with tempfile.TemporaryDirectory(prefix="ants-join-") as temp:
        workdir = args.workdir or Path(temp)
        workdir.mkdir(parents=True, exist_ok=True)
        figures = run(args, workdir)
    print_figures(figures)
    record = {
        "bench": "join",
        "run": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(began)),
        "commit": git_commit(),
        "machine": machine_info(),
        "interval_s": args.interval,
        "fanout": args.fanout,
        **figures,
        "elapsed_s": round(time.time() - began, 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("a") as file:
        file.write(json.dumps(record) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
