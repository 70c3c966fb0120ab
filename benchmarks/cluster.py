"""Real-process cluster benchmark of ants, side by side with pyants 0.3.0 and Serf.

Starts N `ants run` processes on 127.0.0.1 for each N in --sizes and measures:

1. propagation: seconds, and gossip intervals, from creating a job on node 0
   until every other node has it in its state (median of --probes jobs).
   NOTE: ants merges what arrives at its next beat, and the nodes' beat
   phases stay fixed for a cluster's life, so the median at N = 5 moved
   between 0.05 and 0.2 s from one run to the next on the same machine;
2. throughput: trivial jobs completed per second, cluster-wide, and
   duplicate runs;
3. resident memory (VmRSS) and CPU use per node after the run;
4. delta cost, on --delta-nodes nodes: the time to sync --load-jobs jobs
   created on node 0. Then node 0 creates --changes-per-round new jobs per
   round, and the bytes each node sends per gossip round are compared with
   the encoded size of the whole state.

In the same run, unless skipped, it starts the same N of pyants 0.3.0 nodes
and of HashiCorp Serf agents, and reports their propagation and memory next
to ants' as ratios. pyants comes from PyPI, installed into a virtual
environment outside the repository, and Serf from Debian's `serf` package.
All processes share one clock, so times logged by different nodes compare
directly. Results are printed and appended as JSON lines to
benchmarks/results/cluster.jsonl.

    python benchmarks/cluster.py          # N = 5, 20, 50: 8 minutes on a 2-core Xeon
    python benchmarks/cluster.py --quick  # N = 5 only: about 3 minutes there
    python benchmarks/cluster.py --skip-pyants --skip-serf --sizes 5 20
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _cluster import start_cluster  # noqa: E402
from compare.harness import (  # noqa: E402
    LogTail,
    NodeGroup,
    count_reached,
    error_lines,
    measure_propagation,
    measure_resources,
    measure_work,
    median,
    rounded,
    stop_processes,
    summarize_spreads,
    wait_for_join,
)
from compare.pyants import (  # noqa: E402
    PYANTS_VERSION,
    ensure_pyants,
    run_pyants_max_state,
    run_pyants_size,
)
from compare.serf import (  # noqa: E402
    SERF_GOSSIP_INTERVAL,
    SERF_GOSSIP_NODES,
    ensure_serf,
    run_serf_size,
)

from ants.comm.wire import (  # noqa: E402
    MAX_FRAME_BYTES,
    MAX_RECORDS_PER_FRAME,
    Frame,
    MessageType,
    encode_frame,
)
from ants.node.job import Job, JobStatus  # noqa: E402

ANTS_NODE = HERE / "nodes" / "cluster_node.py"
RESULTS = HERE / "results" / "cluster.jsonl"


def machine_info() -> dict:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "python": platform.python_version(),
    }


def git_commit() -> str:
    """Return the short commit, with "+dirty" when ants/ has uncommitted changes."""
    process = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        cwd=HERE,
    )
    commit = process.stdout.strip() or "unknown"
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no", "ants"],
        capture_output=True,
        text=True,
        cwd=HERE.parent,
    ).stdout.strip()
    return commit + ("+dirty" if dirty else "")


def start_ants_group(
    n: int, folder: Path, args: argparse.Namespace, status_every: float = 1.0
) -> NodeGroup:
    control = folder / "control.jsonl"
    control.touch()
    env = {
        "ANTS_BENCH_CONTROL": str(control),
        "ANTS_BENCH_TAG": folder.name,
        "ANTS_BENCH_STATUS": str(status_every),
    }
    nodes = start_cluster(
        ANTS_NODE,
        n,
        folder,
        args.interval,
        env,
        creator_env={"ANTS_BENCH_CREATE": "1"},
        extra_args=["--fanout", str(args.fanout)],
    )
    return NodeGroup(
        system="ants",
        processes=[node.process for node in nodes],
        tails=[LogTail(node.log) for node in nodes],
        stderr_paths=[node.log.with_suffix(".stderr") for node in nodes],
        control=control,
    )


# ants


def run_ants_size(args: argparse.Namespace, n: int, workdir: Path) -> dict:
    folder = workdir / f"ants-{n}"
    folder.mkdir()
    group = start_ants_group(n, folder, args)
    try:
        join_s = wait_for_join(group, args.join_timeout)
        spreads = measure_propagation(
            group, args.probes, args.probe_timeout, args.probe_gap
        )
        work = measure_work(group, args.work_jobs, args.work_timeout, settle=1.0)
        resources = measure_resources(group.processes, group.started)
        exited = group.exited()
        warnings, samples = error_lines(group.stderr_paths)
    finally:
        stop_processes(group.processes)
    traffic = sum_traffic(group)
    return {
        "system": "ants",
        "nodes": n,
        "interval_s": args.interval,
        "fanout": args.fanout,
        "join_s": rounded(join_s, 2),
        **summarize_spreads(spreads, args.interval),
        "spreads_s": [rounded(s) for s in spreads],
        **work,
        **traffic,
        "records_sent_per_job": rounded(
            traffic["records_sent"] / (args.work_jobs + args.probes), 1
        ),
        **resources,
        "exited_early": exited,
        "stderr_warnings": warnings,
        "stderr_samples": samples,
        "stderr_shutdown_lines": error_lines(group.stderr_paths)[0] - warnings,
    }


def sum_traffic(group: NodeGroup) -> dict:
    """Sum the nodes' latest traffic counters and their transports' rejections."""
    statuses = [tail.last("status") for tail in group.tails]
    statuses = [status for status in statuses if status is not None]
    return {
        "records_sent": sum(status["records_out"] for status in statuses),
        "bytes_sent": sum(status["bytes_out"] for status in statuses),
        "exchange_errors": sum(status["errors"] for status in statuses),
        "rejected_connections": sum(
            status["rejected_connections"] for status in statuses
        ),
        "rejected_frames": sum(status["rejected_frames"] for status in statuses),
    }


def encode_full_state(count: int, tag: str, creator: str) -> dict:
    """Encode the loaded jobs as node 0 stores them, in frames of MAX_RECORDS_PER_FRAME.

    The frames carry no member table, so the total is the records' own cost.
    """
    records = [
        Job("load", {"i": index, "tag": tag}).record.with_changes(
            status=JobStatus.PENDING,
            attempt=0,
            owner=None,
            max_attempts=3,
            creator=creator,
        )
        for index in range(count)
    ]
    total = largest = frames = 0
    for start in range(0, count, MAX_RECORDS_PER_FRAME):
        frame = Frame(
            type=MessageType.EXCHANGE,
            node_id=creator,
            address="127.0.0.1:65535",
            incarnation=1,
            jobs=records[start : start + MAX_RECORDS_PER_FRAME],
            stamps={
                record.id: (f"{creator}/0", start + offset + 1)
                for offset, record in enumerate(records[start : start + MAX_RECORDS_PER_FRAME])
            },
        )
        size = len(encode_frame(frame))
        total += size
        largest = max(largest, size)
        frames += 1
    return {"bytes": total, "frames": frames, "largest_frame_bytes": largest}


def status_at(tail: LogTail, when: float, after: bool) -> dict | None:
    """Return the last status line at or before `when`, or the first one after it."""
    statuses = tail.by_event.get("status", [])
    if after:
        return next((s for s in statuses if s["t"] >= when), None)
    before = [s for s in statuses if s["t"] <= when]
    return before[-1] if before else None


def wait_for_quiet(group: NodeGroup, quiet: float, timeout: float) -> float | None:
    """Wait until no node sends a record for `quiet` s; return when the last was sent.

    Counts move when an exchange ends, so an exchange still running after
    `quiet` seconds of silence is missed; the idle window after it shows it.
    """

    def last_send() -> float:
        latest = group.started
        for tail in group.tails:
            statuses = tail.by_event.get("status", [])
            pairs = zip(reversed(statuses[:-1]), reversed(statuses[1:]), strict=True)
            for previous, current in pairs:
                if current["records_out"] != previous["records_out"]:
                    latest = max(latest, current["t"])
                    break
        return latest

    if group.wait(lambda: time.time() - last_send() >= quiet, timeout):
        return last_send()
    return None


def bytes_per_round(
    group: NodeGroup, start: float, end: float, interval: float
) -> dict:
    """Return the bytes each node sent per gossip interval, and seconds per beat."""
    per_round = []
    beat_seconds = []
    for tail in group.tails:
        first = status_at(tail, start, after=False)
        last = status_at(tail, end, after=True)
        if first is None or last is None or last["t"] <= first["t"]:
            continue
        rounds = (last["t"] - first["t"]) / interval
        per_round.append((last["bytes_out"] - first["bytes_out"]) / rounds)
        beats = last["beat"] - first["beat"]
        if beats:
            beat_seconds.append((last["t"] - first["t"]) / beats)
    return {
        "bytes_per_node_per_round_median": round(median(per_round))
        if per_round
        else None,
        "bytes_per_node_per_round_max": round(max(per_round)) if per_round else None,
        "beat_s_median": rounded(median(beat_seconds)),
    }


@dataclass
class DeltaTimeline:
    """Wall-clock marks of the delta-cost run; None where a step timed out."""

    synced: bool = False
    quiet_since: float | None = None
    idle_start: float = 0.0
    idle_end: float = 0.0
    changed: bool = False


def run_delta(args: argparse.Namespace, workdir: Path) -> dict:
    n = args.delta_nodes
    folder = workdir / f"ants-delta-{n}"
    folder.mkdir()
    group = start_ants_group(n, folder, args, status_every=args.interval)
    try:
        join_s = wait_for_join(group, args.join_timeout)
        timeline = drive_delta(group, args)
        resources = measure_resources(group.processes, group.started)
        exited = group.exited()
        warnings, samples = error_lines(group.stderr_paths)
    finally:
        stop_processes(group.processes)
    load_figures = summarize_load(group, args, timeline, folder.name)
    change_figures = summarize_changes(group, args, timeline)
    per_round = change_figures["with_changes"].get("bytes_per_node_per_round_median")
    fraction = None
    if per_round is not None:
        fraction = rounded(per_round / load_figures["full_state_bytes"], 6)
    return {
        "system": "ants",
        "nodes": n,
        "interval_s": args.interval,
        "fanout": args.fanout,
        "join_s": rounded(join_s, 2),
        **load_figures,
        **change_figures,
        "delta_fraction_of_full_state": fraction,
        **resources,
        "exited_early": exited,
        "stderr_warnings": warnings,
        "stderr_samples": samples,
        "stderr_shutdown_lines": error_lines(group.stderr_paths)[0] - warnings,
    }


def drive_delta(group: NodeGroup, args: argparse.Namespace) -> DeltaTimeline:
    """Load the jobs, wait for the sync to end, then time an idle and a busy window."""
    n = len(group)
    load = args.load_jobs
    changes = args.changes_per_round * args.change_rounds
    timeline = DeltaTimeline()
    group.command(cmd="load", count=load, expect_total=load)
    timeline.synced = group.wait(
        lambda: count_reached(group, load) >= n, args.load_timeout
    )
    if timeline.synced:
        timeline.quiet_since = wait_for_quiet(
            group, args.quiet_seconds, args.load_timeout
        )

    timeline.idle_start = time.time()
    time.sleep(args.change_rounds * args.interval)
    timeline.idle_end = time.time()

    group.command(
        cmd="changes",
        per_round=args.changes_per_round,
        rounds=args.change_rounds,
        interval=args.interval,
        expect_total=load + changes,
    )
    timeline.changed = group.wait(
        lambda: count_reached(group, load + changes) >= n,
        args.change_rounds * args.interval + args.probe_timeout,
    )
    # Every node must log a status line after the window for it to count. Beats
    # can be slow here: 1.2 to 1.8 s with 100,000 pending jobs, 5 nodes, 2 cores.
    window_end = time.time()
    group.wait(
        lambda: all(
            (tail.last("status") or {"t": 0})["t"] >= window_end for tail in group.tails
        ),
        args.probe_timeout,
    )
    return timeline


def summarize_load(
    group: NodeGroup, args: argparse.Namespace, timeline: DeltaTimeline, tag: str
) -> dict:
    n, load = len(group), args.load_jobs
    creator = group.tails[0].last("start")
    created = next(
        (e for e in group.tails[0].by_event.get("created", []) if e["kind"] == "load"),
        None,
    )
    reached = [e["t"] for _, e in group.events("reached") if e["total"] == load]
    sync_s = None
    if timeline.synced and created:
        sync_s = max(reached) - created["t"]
    records_sent = None
    if timeline.quiet_since:
        records_sent = sum(
            status_at(t, timeline.quiet_since, after=False)["records_out"]
            for t in group.tails
        )
    statuses = [t.last("status") for t in group.tails if t.last("status")]
    full = encode_full_state(load, tag, creator["node"] if creator else "0" * 16)
    return {
        "load_jobs": load,
        "load_build_s": created.get("build_s") if created else None,
        "load_synced": timeline.synced,
        "load_sync_s": rounded(sync_s, 2),
        "load_sync_intervals": rounded(sync_s / args.interval, 1) if sync_s else None,
        "load_quiet_s": rounded(timeline.quiet_since - created["t"], 2)
        if timeline.quiet_since and created
        else None,
        "load_records_sent": records_sent,
        "load_records_sent_per_needed": rounded(records_sent / ((n - 1) * load), 2)
        if records_sent
        else None,
        "frame_max_bytes_seen": max(s["frame_max_bytes"] for s in statuses)
        if statuses
        else None,
        "frame_cap_bytes": MAX_FRAME_BYTES,
        "frames_over_cap": sum(s["frames_too_large"] for s in statuses),
        "full_state_bytes": full["bytes"],
        "full_state_frames": full["frames"],
        "full_state_largest_frame_bytes": full["largest_frame_bytes"],
    }


def summarize_changes(
    group: NodeGroup, args: argparse.Namespace, timeline: DeltaTimeline
) -> dict:
    total = args.load_jobs + args.changes_per_round * args.change_rounds
    change_start = group.tails[0].last("changes_start")
    reached = [e["t"] for _, e in group.events("reached") if e["total"] == total]
    idle = bytes_per_round(group, timeline.idle_start, timeline.idle_end, args.interval)
    busy = {}
    if change_start and reached:
        busy = bytes_per_round(group, change_start["t"], max(reached), args.interval)
    return {
        "changes_per_round": args.changes_per_round,
        "change_rounds": args.change_rounds,
        "changes_reached_all": timeline.changed,
        "changes_spread_s": rounded(max(reached) - change_start["t"], 2)
        if timeline.changed and change_start
        else None,
        "idle": idle,
        "with_changes": busy,
    }


# Report


def ratio(
    numerator: float | None, denominator: float | None, digits: int = 2
) -> float | None:
    if numerator is None or not denominator:
        return None
    return round(numerator / denominator, digits)


def compare(
    results: list[dict], delta: dict | None, max_state: dict | None
) -> list[dict]:
    """Return one comparison per size, from figures measured in this run."""
    by_key = {(r["system"], r["nodes"]): r for r in results}
    comparisons = []
    for (system, n), ants in sorted(by_key.items()):
        if system != "ants":
            continue
        row: dict = {"nodes": n}
        serf = by_key.get(("serf", n))
        if serf:
            row["propagation_intervals_ants_over_serf"] = ratio(
                ants["propagation_intervals_median"],
                serf["propagation_intervals_median"],
            )
            row["propagation_s_ants_over_serf"] = ratio(
                ants["propagation_s_median"], serf["propagation_s_median"]
            )
            row["rss_ants_over_serf"] = ratio(
                ants["rss_mib_median"], serf["rss_mib_median"]
            )
        pyants = by_key.get(("pyants", n))
        if pyants:
            row["propagation_s_pyants_over_ants"] = ratio(
                pyants["propagation_s_median"], ants["propagation_s_median"]
            )
            row["duplicate_runs_ants"] = ants["duplicate_runs"]
            row["duplicate_runs_pyants"] = pyants["duplicate_runs"]
            row["jobs_pyants"] = pyants["jobs"]
            row["rss_ants_over_pyants"] = ratio(
                ants["rss_mib_median"], pyants["rss_mib_median"]
            )
        if len(row) > 1:
            comparisons.append(row)
    if delta and max_state and max_state.get("largest_synced_jobs"):
        synced = delta["load_jobs"] if delta.get("load_synced") else None
        comparisons.append(
            {
                "nodes": delta["nodes"],
                "state_jobs_synced_ants": synced,
                "state_jobs_synced_pyants": max_state["largest_synced_jobs"],
                "state_ants_over_pyants": ratio(
                    synced, max_state["largest_synced_jobs"], 0
                ),
            }
        )
    return comparisons


def fmt(value: object, width: int) -> str:
    if value is None:
        text = "-"
    elif isinstance(value, int):
        text = f"{value:,}"
    else:
        text = str(value)
    return text.rjust(width)


def print_sizes(results: list[dict]) -> None:
    header = (
        f"{'system':<7}{'nodes':>6}{'join s':>8}{'prop s med':>11}{'prop s max':>11}"
        f"{'intervals':>10}{'reached':>8}{'jobs/s':>8}{'jobs':>6}{'dup runs':>9}"
        f"{'RSS MiB med':>12}{'RSS max':>8}{'CPU/node':>9}"
    )
    print(header)
    print("-" * len(header))
    for r in sorted(results, key=lambda r: (r["nodes"], r["system"])):
        reached = f"{r['probes_reaching_all']}/{r['probes']}"
        print(
            f"{r['system']:<7}{fmt(r['nodes'], 6)}{fmt(r['join_s'], 8)}"
            f"{fmt(r['propagation_s_median'], 11)}{fmt(r['propagation_s_max'], 11)}"
            f"{fmt(r['propagation_intervals_median'], 10)}{reached:>8}"
            f"{fmt(r.get('jobs_per_second'), 8)}{fmt(r.get('jobs'), 6)}"
            f"{fmt(r.get('duplicate_runs'), 9)}{fmt(r['rss_mib_median'], 12)}"
            f"{fmt(r['rss_mib_max'], 8)}{fmt(r['cpu_cores_per_node_median'], 9)}"
        )


def print_delta(delta: dict) -> None:
    print(
        f"\ndelta cost: ants, {delta['nodes']} nodes, {delta['load_jobs']:,} jobs "
        f"created on node 0 (built in {delta['load_build_s']} s)"
    )
    print(
        f"  initial sync to all nodes: {delta['load_sync_s']} s "
        f"({delta['load_sync_intervals']} intervals)"
    )
    print(
        f"  last record sent after the load: {delta['load_quiet_s']} s; records sent "
        f"in all: {fmt(delta['load_records_sent'], 0)}, "
        f"{delta['load_records_sent_per_needed']} times the {delta['nodes'] - 1} x "
        f"{delta['load_jobs']:,} the other nodes needed"
    )
    print(
        f"  largest frame sent: {fmt(delta['frame_max_bytes_seen'], 0)} bytes, cap "
        f"{delta['frame_cap_bytes']:,}; frames over the cap: {delta['frames_over_cap']}"
    )
    print(
        f"  full state encoded: {delta['full_state_bytes']:,} bytes in "
        f"{delta['full_state_frames']} frames of {MAX_RECORDS_PER_FRAME:,} records"
    )
    idle, busy = delta["idle"], delta["with_changes"]
    print(
        "  bytes sent per node per round, idle: "
        f"{fmt(idle['bytes_per_node_per_round_median'], 0)} median, "
        f"{fmt(idle['bytes_per_node_per_round_max'], 0)} max;"
        f" beat every {idle['beat_s_median']} s"
    )
    if busy:
        print(
            f"  with {delta['changes_per_round']} new jobs per round for "
            f"{delta['change_rounds']} rounds: "
            f"{fmt(busy['bytes_per_node_per_round_median'], 0)} median, "
            f"{fmt(busy['bytes_per_node_per_round_max'], 0)} max;"
            f" beat every {busy['beat_s_median']} s"
        )
    fraction = delta["delta_fraction_of_full_state"]
    if fraction is not None:
        verdict = "meets" if fraction < 0.01 else "misses"
        print(
            f"  per-round bytes / full state: {fraction:.4%} ({verdict} the 1% target)"
        )
    print(
        f"  RSS per node with the load: {delta['rss_mib_median']} MiB median, "
        f"{delta['rss_mib_max']} MiB max"
    )


def print_max_state(max_state: dict) -> None:
    print(
        f"\nlargest state pyants {PYANTS_VERSION} syncs to {max_state['nodes']} nodes "
        f"within {max_state['step_timeout_s']} s: "
        f"{fmt(max_state['largest_synced_jobs'], 0)} jobs "
        f"(failed at {fmt(max_state['failed_at_jobs'], 0)}; "
        f"pull threads stopped: {max_state['pull_threads_stopped']})"
    )
    for step in max_state["steps"]:
        print(
            f"  {step['jobs']:>6,} jobs: {step['nodes_reached']} nodes reached, "
            f"sync {fmt(step['sync_s'], 0)} s"
        )
    for sample in max_state["stderr_samples"]:
        print(f"  stderr: {sample}")


def print_comparisons(comparisons: list[dict]) -> None:
    print("\ncomparisons measured in this run:")
    for row in comparisons:
        parts = [f"{key}={value}" for key, value in row.items() if key != "nodes"]
        print(f"  N={row['nodes']}: " + ", ".join(parts))


# Driver


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_size_arguments(parser)
    add_delta_arguments(parser)
    add_pyants_arguments(parser)
    for name in ("ants", "delta", "pyants", "serf"):
        parser.add_argument(
            f"--skip-{name}", action="store_true", help=f"skip the {name} runs"
        )
    parser.add_argument(
        "--workdir",
        type=Path,
        help="folder for node logs, kept after the run (default: a temp folder)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=RESULTS,
        help=f"JSON Lines file to append to (default: {RESULTS})",
    )
    args = parser.parse_args()
    if args.quick:
        args.sizes = [5]
    if min(args.sizes) < 2 or args.delta_nodes < 2:
        parser.error("every cluster size must be at least 2")
    if not args.interval > 0 or args.fanout < 1:
        parser.error("--interval must be positive and --fanout at least 1")
    return args


def add_size_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--sizes",
        type=int,
        nargs="+",
        default=[5, 20, 50],
        help="cluster sizes to run (default: 5 20 50)",
    )
    parser.add_argument("--quick", action="store_true", help="run N = 5 only")
    parser.add_argument(
        "--interval",
        type=float,
        default=0.2,
        help="ants and pyants gossip interval in seconds (default: 0.2, "
        "Serf's LAN gossip interval)",
    )
    parser.add_argument(
        "--fanout",
        type=int,
        default=3,
        help="ants peers contacted per round (default: 3, as Serf's LAN profile)",
    )
    parser.add_argument(
        "--probes",
        type=int,
        default=10,
        help="jobs timed for propagation per size (default: 10)",
    )
    parser.add_argument(
        "--probe-gap",
        type=float,
        default=0.5,
        help="seconds between two propagation probes (default: 0.5)",
    )
    parser.add_argument(
        "--probe-timeout",
        type=float,
        default=30.0,
        help="seconds a probe may take to reach every node (default: 30)",
    )
    parser.add_argument(
        "--join-timeout",
        type=float,
        default=60.0,
        help="seconds to wait for every node to see all others (default: 60)",
    )
    parser.add_argument(
        "--work-jobs",
        type=int,
        default=2000,
        help="trivial ants jobs for the throughput test (default: 2000)",
    )
    parser.add_argument(
        "--work-timeout",
        type=float,
        default=120.0,
        help="seconds the throughput test may take (default: 120)",
    )


def add_delta_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--delta-nodes",
        type=int,
        default=5,
        help="nodes in the delta-cost and pyants state-size tests (default: 5)",
    )
    parser.add_argument(
        "--load-jobs",
        type=int,
        default=100_000,
        help="jobs loaded for the delta-cost test (default: 100000)",
    )
    parser.add_argument(
        "--load-timeout",
        type=float,
        default=300.0,
        help="seconds the loaded jobs may take to reach every node, and again "
        "for the nodes to stop sending records (default: 300)",
    )
    parser.add_argument(
        "--quiet-seconds",
        type=float,
        default=5.0,
        help="seconds without records sent that end the initial sync (default: 5)",
    )
    parser.add_argument(
        "--changes-per-round",
        type=int,
        default=10,
        help="new jobs node 0 creates per gossip interval (default: 10)",
    )
    parser.add_argument(
        "--change-rounds",
        type=int,
        default=30,
        help="gossip intervals with changes, and idle ones before (default: 30)",
    )


def add_pyants_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--pyants-venv",
        type=Path,
        default=Path(tempfile.gettempdir()) / f"ants-bench-pyants-{PYANTS_VERSION}",
        help="virtual environment for pyants, created if missing "
        "(default: in the system temp folder)",
    )
    parser.add_argument(
        "--pyants-work-jobs",
        type=int,
        default=100,
        help="trivial pyants jobs for counting duplicate runs (default: 100)",
    )
    parser.add_argument(
        "--pyants-work-timeout",
        type=float,
        default=30.0,
        help="seconds the pyants jobs may take (default: 30)",
    )
    parser.add_argument(
        "--pyants-counts",
        type=int,
        nargs="+",
        default=[10, 30, 60, 100, 200, 400, 800, 1600, 3200],
        help="state sizes, in jobs, tried in turn on pyants "
        "(default: 10 30 60 100 200 400 800 1600 3200)",
    )
    parser.add_argument(
        "--pyants-step-timeout",
        type=float,
        default=20.0,
        help="seconds each pyants state size may take to sync (default: 20)",
    )


def run_phase(name: str, errors: list[str], function: Callable[[], object]) -> object:
    """Run one measurement; on an exception, record it and let the others run."""
    print(f"[{time.strftime('%H:%M:%S')}] {name}", flush=True)
    try:
        return function()
    except Exception as exc:
        traceback.print_exc()
        errors.append(f"{name}: {type(exc).__name__}: {exc}")
        return None


def run_all(args: argparse.Namespace, workdir: Path, errors: list[str]) -> dict:
    sizes: list[dict] = []
    delta = max_state = None
    if not args.skip_ants:
        for n in args.sizes:
            result = run_phase(
                f"ants, {n} nodes", errors, lambda n=n: run_ants_size(args, n, workdir)
            )
            if result:
                sizes.append(result)
    if not args.skip_delta:
        delta = run_phase(
            f"ants delta cost, {args.delta_nodes} nodes, {args.load_jobs:,} jobs",
            errors,
            lambda: run_delta(args, workdir),
        )
    if not args.skip_pyants:
        python = run_phase(
            f"pyants {PYANTS_VERSION} environment",
            errors,
            lambda: ensure_pyants(args.pyants_venv),
        )
        if python:
            for n in args.sizes:
                result = run_phase(
                    f"pyants, {n} nodes",
                    errors,
                    lambda n=n: run_pyants_size(python, args, n, workdir),
                )
                if result:
                    sizes.append(result)
            max_state = run_phase(
                "pyants largest state",
                errors,
                lambda: run_pyants_max_state(python, args, workdir),
            )
    if not args.skip_serf:
        serf = ensure_serf()
        if serf is None:
            errors.append(
                "serf: binary not found and not installable; "
                "run `apt-get install -y serf` or pass --skip-serf"
            )
        else:
            for n in args.sizes:
                result = run_phase(
                    f"serf, {n} agents",
                    errors,
                    lambda n=n: run_serf_size(serf, args, n, workdir),
                )
                if result:
                    sizes.append(result)
    return {"sizes": sizes, "delta": delta, "max_state": max_state}


def main() -> int:
    args = parse_args()
    started = time.time()
    header = {
        "bench": "cluster",
        "run": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "commit": git_commit(),
        "machine": machine_info(),
    }
    errors: list[str] = []
    if args.workdir:
        args.workdir.mkdir(parents=True, exist_ok=True)
        workdir = Path(tempfile.mkdtemp(prefix="cluster-", dir=args.workdir))
        measured = run_all(args, workdir, errors)
    else:
        with tempfile.TemporaryDirectory(prefix="ants-cluster-") as folder:
            measured = run_all(args, Path(folder), errors)
    comparisons = compare(measured["sizes"], measured["delta"], measured["max_state"])

    machine = header["machine"]
    print(
        f"\ncluster benchmark, commit {header['commit']}, {machine['nproc']} cores "
        f"({machine['cpu_model']}), Python {machine['python']}, "
        "ants and pyants interval "
        f"{args.interval} s, ants fanout {args.fanout}, Serf LAN profile "
        f"({SERF_GOSSIP_INTERVAL} s, {SERF_GOSSIP_NODES} nodes), "
        "pyants pulls from 1 peer"
    )
    if measured["sizes"]:
        print()
        print_sizes(measured["sizes"])
    if measured["delta"]:
        print_delta(measured["delta"])
    if measured["max_state"]:
        print_max_state(measured["max_state"])
    if comparisons:
        print_comparisons(comparisons)

    records = [dict(header, section="size", **r) for r in measured["sizes"]]
    if measured["delta"]:
        records.append(dict(header, section="delta", **measured["delta"]))
    if measured["max_state"]:
        records.append(dict(header, section="max_state", **measured["max_state"]))
    records.append(
        dict(
            header,
            section="summary",
            comparisons=comparisons,
            errors=errors,
            elapsed_s=round(time.time() - started, 1),
        )
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("a") as file:
        for record in records:
            file.write(json.dumps(record) + "\n")

    print("\nsummary")
    print(f"  elapsed: {time.time() - started:.0f} s; results appended to {args.out}")
    ants_rows = [r for r in measured["sizes"] if r["system"] == "ants"]
    for r in ants_rows:
        print(
            f"  ants N={r['nodes']}: propagation {r['propagation_s_median']} s "
            f"({r['propagation_intervals_median']} intervals), "
            f"{r['jobs_per_second']} jobs/s, {r['duplicate_runs']} duplicate runs, "
            f"RSS {r['rss_mib_median']} MiB, {r['records_sent_per_job']} records "
            f"sent per job, {r['rejected_connections']} rejected connections, "
            f"{r['cpu_cores_total']} of {os.cpu_count()} cores busy on average"
        )
    if measured["delta"]:
        fraction = measured["delta"]["delta_fraction_of_full_state"]
        print(
            f"  ants delta cost: "
            f"{'-' if fraction is None else f'{fraction:.4%}'} "
            "of the full state per round"
        )
    if args.workdir:
        print(f"  node logs kept in {workdir}")
    for error in errors:
        print(f"  FAILED {error}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
