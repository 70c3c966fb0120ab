"""Kill-and-restart benchmark: are jobs lost or run twice when nodes die?

Starts N `ants run` processes on 127.0.0.1, creates M jobs of about 50 ms on
node 0, kills K random other nodes with SIGKILL at seeded random times and
restarts each after a delay with the same data directory. Prints jobs lost
(not reported done on node 0, which is never killed, failed ones included),
duplicate runs per 1,000 jobs, and the time from a kill to the killed node's
interrupted jobs running on another node, in gossip intervals. Appends the
figures to benchmarks/results/guarantees.jsonl.

    python benchmarks/guarantees.py --nodes 5 --jobs 500 --kills 2 --seed 1
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _cluster import read_events, start_cluster  # noqa: E402

HERE = Path(__file__).parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=500)
    parser.add_argument("--kills", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--interval", type=float, default=0.2)
    parser.add_argument("--dead-after", type=float, default=2.0)
    parser.add_argument("--restart-after", type=float, default=3.0,
                        help="seconds between a kill and the restart")
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args()
    rng = random.Random(args.seed)

    with tempfile.TemporaryDirectory(prefix="ants-guarantees-") as folder:
        workdir = Path(folder)
        nodes = start_cluster(
            HERE / "nodes" / "work_node.py", args.nodes, workdir, args.interval,
            {"ANTS_BENCH_JOBS": str(args.jobs), "ANTS_BENCH_WORK": "0.05"},
            creator_env={"ANTS_BENCH_CREATE": "1"},
            extra_args=["--dead-after", str(args.dead_after),
                        "--suspect-after", str(args.dead_after / 2)],
        )
        try:
            figures = run_scenario(args, rng, nodes)
        finally:
            for node in nodes:
                node.stop()
    print(json.dumps(figures, indent=2))
    out = HERE / "results" / "guarantees.jsonl"
    out.parent.mkdir(exist_ok=True)
    with out.open("a") as file:
        file.write(json.dumps(figures) + "\n")
    return 0 if figures["lost"] == 0 else 1


def run_scenario(args, rng: random.Random, nodes) -> dict:
    started = time.time()
    expected_work = args.jobs * 0.05 / args.nodes
    kill_times = sorted(rng.uniform(1.0, 1.0 + expected_work) for _ in range(args.kills))
    # Distinct victims where possible, so no node is killed again before its restart.
    candidates = list(range(1, args.nodes))
    rng.shuffle(candidates)
    victims = [candidates[i % len(candidates)] for i in range(args.kills)]
    restarts: list[tuple[float, object]] = []
    kills: list[tuple[float, int]] = []
    deadline = started + args.timeout
    reports: dict[str, str] = {}
    while time.time() < deadline:
        now = time.time() - started
        while kill_times and now >= kill_times[0]:
            kill_times.pop(0)
            node = nodes[victims.pop(0)]
            node.kill()
            kills.append((time.time(), node.index))
            restarts.append((time.time() + args.restart_after, node))
        for when, node in list(restarts):
            if time.time() >= when:
                node.start()
                restarts.remove((when, node))
        reports = terminal_reports(nodes[0].log)
        if len(reports) >= args.jobs and not kill_times and not restarts:
            break
        time.sleep(0.2)
    elapsed = time.time() - started
    return summarize(args, nodes, kills, reports, elapsed)


def terminal_reports(log: Path) -> dict[str, str]:
    """Return job id -> status (DONE or FAILED) of the jobs a node reported."""
    return {e["job"]: e["status"] for e in read_events(log) if e["event"] == "done"}


def summarize(args, nodes, kills, reports_on_creator, elapsed) -> dict:
    runs: Counter[str] = Counter()
    finished_runs: Counter[str] = Counter()
    timeline: dict[str, list[tuple[float, int, str]]] = defaultdict(list)
    for node in nodes:
        for event in read_events(node.log):
            if event["event"] == "run":
                runs[event["job"]] += 1
                timeline[event["job"]].append((event["t"], node.index, "run"))
            elif event["event"] == "ran":
                finished_runs[event["job"]] += 1
                timeline[event["job"]].append((event["t"], node.index, "ran"))
    recoveries = []
    rerun_by_victim = 0
    for kill_time, index in kills:
        for events in timeline.values():
            events.sort()
            mine = [e for e in events if e[1] == index and e[0] <= kill_time]
            if not mine or mine[-1][2] != "run":
                continue
            # The killed node restarts and may run the job again itself,
            # which is not a recovery by another node.
            later = [e for e in events if e[0] > kill_time and e[2] == "run"]
            elsewhere = [e for e in later if e[1] != index]
            if elsewhere:
                recoveries.append(elsewhere[0][0] - kill_time)
            elif later:
                rerun_by_victim += 1
    duplicates = sum(count - 1 for count in finished_runs.values() if count > 1)
    done = sum(1 for status in reports_on_creator.values() if status == "DONE")
    failed = sum(1 for status in reports_on_creator.values() if status == "FAILED")
    process = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, cwd=HERE)
    return {
        "commit": process.stdout.strip(),
        "nodes": args.nodes,
        "jobs": args.jobs,
        "kills": len(kills),
        "seed": args.seed,
        "interval_s": args.interval,
        "dead_after_s": args.dead_after,
        "elapsed_s": round(elapsed, 1),
        "done_on_node0": done,
        "failed_on_node0": failed,
        "lost": args.jobs - done,
        "duplicate_finished_runs": duplicates,
        "duplicates_per_1000": round(1000 * duplicates / max(1, args.jobs), 2),
        "interrupted_runs": sum(runs.values()) - sum(finished_runs.values()),
        "recovered_jobs": len(recoveries),
        "rerun_only_by_killed_node": rerun_by_victim,
        "recovery_median_intervals": round(statistics.median(recoveries) / args.interval, 1)
        if recoveries else None,
        "recovery_max_intervals": round(max(recoveries) / args.interval, 1)
        if recoveries else None,
    }


if __name__ == "__main__":
    sys.exit(main())
