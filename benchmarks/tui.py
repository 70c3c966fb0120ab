"""Dashboard cost at 1,000 to 100,000 jobs, and its effect on the node's beat rate.

For each job count, a new process starts one real node (TCP transport on
127.0.0.1, no peers) and writes that many jobs straight into its state: 10%
pending, 10% assigned to a peer, 75% done and 5% failed. While it runs, the
node adds and finishes 5 jobs per beat, so every snapshot differs from the
last. Then, headless through `App.run_test()` at 120x40:

1. first paint: seconds from entering `run_test` until the first snapshot
   is drawn (the app is mounted, the snapshot read and every widget laid
   out and rendered), in a process that has not drawn the dashboard before;
2. refresh: milliseconds to build a new snapshot, apply it with
   `refresh_view()` and lay out and render what changed, median and max
   over --refreshes, with the pending tab shown (as at start) and then with
   the done tab (the largest). The UI thread's CPU time for the same work
   is given too: unlike wall time, other processes on the machine barely
   change it;
3. beat rate: the node's beats per second over --seconds, first without
   the dashboard, then with it refreshing at its normal interval on the
   done tab.

Headless Textual renders every widget but skips writing escape codes to a
terminal, so a real terminal adds that step to the figures. Results are
printed and appended as JSON lines to benchmarks/results/tui.jsonl.

    python benchmarks/tui.py                      # 1k, 10k, 100k: about 2 minutes
    python benchmarks/tui.py --jobs 100000 --profile 30
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import hashlib
import io
import json
import os
import pstats
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from cluster import git_commit, machine_info  # noqa: E402

from ants.comm.socket import SocketCommunication  # noqa: E402
from ants.node.base import BaseNode  # noqa: E402
from ants.node.config import NodeConfig  # noqa: E402
from ants.node.job import Job, JobRecord, JobStatus  # noqa: E402
from ants.tui.app import REFRESH_INTERVAL, AntsApp, make_app  # noqa: E402
from ants.tui.widgets.jobs_panel import JobsPanel  # noqa: E402

RESULTS = HERE / "results" / "tui.jsonl"
SIZE = (120, 40)
PEER_ID = "00000000000000ff"
"""Owner of the assigned jobs: a peer that never joins. A long dead_after keeps
its jobs from being re-queued."""

JOBS_PER_BEAT = 5
"""Jobs the bench node adds, and later finishes, each beat."""


class ChurningNode(BaseNode):
    """Adds JOBS_PER_BEAT jobs a beat and finishes them at once, so the state moves."""

    def add_jobs(self) -> list[Job]:
        first = getattr(self, "next_number", 0)
        self.next_number = first + JOBS_PER_BEAT
        return [Job("churn", {"n": n}) for n in range(first, self.next_number)]

    def assign_to_jobs(self, pending_jobs: list[Job]) -> list[Job]:
        # The loaded pending jobs stay pending; only this node's own jobs run.
        return [job for job in pending_jobs if job.name == "churn"]

    def do_jobs(self, my_assigned_jobs: list[Job]) -> None:
        for job in my_assigned_jobs:
            job.set_result({"n": job.payload["n"]})


def make_records(count: int, self_id: str, now: float) -> list[JobRecord]:
    """Return `count` job records spread over the statuses, created over an hour."""
    records = []
    for index in range(count):
        share = index % 20
        payload = {"index": index, "url": f"https://example.org/{index}"}
        job_id = hashlib.blake2b(repr(payload).encode(), digest_size=16).hexdigest()
        created = now - 3600 + 3600 * index / count
        record = JobRecord(
            id=job_id,
            name=f"fetch-{index % 7}",
            payload=payload,
            creator=self_id,
            created=created,
        )
        if share < 2:
            pass
        elif share < 4:
            record = record.with_changes(status=JobStatus.ASSIGNED, owner=PEER_ID)
        elif share < 19:
            record = record.with_changes(
                status=JobStatus.DONE,
                owner=self_id,
                result={"status": 200, "bytes": 1000 + index % 5000},
                finished=created + 0.5,
            )
        else:
            record = record.with_changes(
                status=JobStatus.FAILED,
                owner=self_id,
                attempt=2,
                error="Traceback (most recent call last):\nTimeoutError: timed out",
                finished=created + 30.0,
            )
        records.append(record)
    return records


def build_node(jobs: int, interval: float) -> BaseNode:
    """Return a started node whose state contains `jobs` records written directly."""
    config = NodeConfig.local(
        heartbeat_interval=interval,
        suspect_after=3000.0,
        dead_after=3600.0,
        forget_after=7200.0,
    )
    communication = SocketCommunication(host="127.0.0.1", port=0, bootstrap_nodes=[])
    node = ChurningNode(config, communication)
    records = make_records(jobs, node.node_id, time.time())
    # Written before start, so the beat thread is still the only writer afterwards.
    node.state.merge(records)
    node.start()
    return node


def wait_for_beats(node: BaseNode, beats: int, timeout: float = 60.0) -> None:
    target = node.runtime.beat + beats
    deadline = time.monotonic() + timeout
    while node.runtime.beat < target:
        if time.monotonic() > deadline:
            raise SystemExit(
                f"tui bench: node did not reach beat {target} in {timeout}s"
            )
        time.sleep(0.01)


async def render_pending(app: AntsApp, pilot) -> None:
    """Process the messages that an update queued, then lay out and render now.

    These are the two steps of `Pilot.pause()` without its wait for the
    process to go idle, which would count sleeping as work.
    """
    await pilot._wait_for_screen()
    app.screen._on_timer_update()


async def measure_dashboard(node: BaseNode, refreshes: int, seconds: float) -> dict:
    """Return first paint, refresh times and the beat rate with the dashboard shown."""
    # The long interval keeps the app's own timer out of the timed refreshes.
    app = make_app(node, reload=False, refresh_interval=3600.0)
    started = time.perf_counter()
    async with app.run_test(size=SIZE) as pilot:
        await render_pending(app, pilot)
        first_paint = time.perf_counter() - started
        jobs = app.query_one(JobsPanel)
        if jobs.active_table.row_count == 0:
            raise SystemExit("tui bench: the jobs table is empty after the first paint")

        row: dict[str, float] = {"first_paint_s": round(first_paint, 3)}
        builds = []
        # Pending is the tab shown at start; done is the largest.
        for status in (JobStatus.PENDING, JobStatus.DONE):
            jobs.show_status(status)
            await pilot.pause()
            walls = []
            cpus = []
            for _ in range(refreshes):
                built = await wait_for_new_snapshot(node, app._shown_version)
                begin = time.perf_counter()
                begin_cpu = time.thread_time()
                app.refresh_view()
                await render_pending(app, pilot)
                walls.append(built.wall + time.perf_counter() - begin)
                cpus.append(built.cpu + time.thread_time() - begin_cpu)
                builds.append(built.wall)
            name = status.name.lower()
            row[f"{name}_median_ms"] = round(1000 * statistics.median(walls), 1)
            row[f"{name}_max_ms"] = round(1000 * max(walls), 1)
            row[f"{name}_cpu_median_ms"] = round(1000 * statistics.median(cpus), 1)
        row["snapshot_median_ms"] = round(1000 * statistics.median(builds), 1)

        # Now the timer of a normal run, with its slow-refresh backoff.
        app.set_interval(REFRESH_INTERVAL, app._refresh_tick)
        row["beats_per_s_with_ui"] = round(
            await beats_per_second_async(node, seconds), 2
        )
    return row


@dataclass(frozen=True)
class Elapsed:
    """The time one step took, on the wall clock and on the thread's CPU."""

    wall: float
    """Seconds of wall-clock time."""
    cpu: float
    """Seconds of CPU time of the calling thread."""


async def wait_for_new_snapshot(node: BaseNode, version: int | None) -> Elapsed:
    """Wait for a snapshot newer than `version`; return the time its build took.

    The node builds a snapshot when it is first read after a beat, on the
    reading thread, so the build is part of a refresh's cost.
    """
    while True:
        begin = time.perf_counter()
        begin_cpu = time.thread_time()
        snapshot = node.snapshot()
        if snapshot.version != version:
            return Elapsed(time.perf_counter() - begin, time.thread_time() - begin_cpu)
        await asyncio.sleep(0.005)


def beats_per_second(node: BaseNode, seconds: float) -> float:
    start_beat, start = node.runtime.beat, time.monotonic()
    time.sleep(seconds)
    return (node.runtime.beat - start_beat) / (time.monotonic() - start)


async def beats_per_second_async(node: BaseNode, seconds: float) -> float:
    start_beat, start = node.runtime.beat, time.monotonic()
    await asyncio.sleep(seconds)
    return (node.runtime.beat - start_beat) / (time.monotonic() - start)


def run_one(jobs: int, args: argparse.Namespace) -> dict:
    node = build_node(jobs, args.interval)
    try:
        # The first beats report every loaded terminal job to completed_jobs once.
        wait_for_beats(node, 3)
        without = beats_per_second(node, args.seconds)
        measured = asyncio.run(measure_dashboard(node, args.refreshes, args.seconds))
    finally:
        node.shutdown(timeout=2.0)
    return {
        "jobs": jobs,
        **measured,
        "beats_per_s_without_ui": round(without, 2),
        "nominal_beats_per_s": round(1 / args.interval, 2),
    }


def measure_in_child(jobs: int, args: argparse.Namespace) -> dict:
    """Run `run_one` in a new process, so each first paint starts cold."""
    command = [
        sys.executable,
        __file__,
        "--single",
        str(jobs),
        "--refreshes",
        str(args.refreshes),
        "--seconds",
        str(args.seconds),
        "--interval",
        str(args.interval),
    ]
    process = subprocess.run(command, capture_output=True, text=True)
    if process.returncode != 0:
        raise SystemExit(
            f"tui bench: measuring {jobs} jobs failed with exit code "
            f"{process.returncode}:\n{process.stderr}"
        )
    print(f"measured {jobs:,} jobs", file=sys.stderr)
    return json.loads(process.stdout.splitlines()[-1])


def profile_refreshes(jobs: int, args: argparse.Namespace) -> None:
    """Print where --profile refreshes on the done tab spend their time."""
    node = build_node(jobs, args.interval)
    profiler = cProfile.Profile()

    async def drive() -> None:
        app = make_app(node, reload=False, refresh_interval=3600.0)
        async with app.run_test(size=SIZE) as pilot:
            app.query_one(JobsPanel).show_status(JobStatus.DONE)
            await pilot.pause()
            for _ in range(args.profile):
                profiler.disable()
                await wait_for_new_snapshot(node, app._shown_version)
                profiler.enable()
                app.refresh_view()
                await render_pending(app, pilot)
            profiler.disable()

    try:
        wait_for_beats(node, 3)
        asyncio.run(drive())
    finally:
        node.shutdown(timeout=2.0)
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative").print_stats(35)
    stats.sort_stats("tottime").print_stats(20)
    print(out.getvalue())


def print_table(rows: list[dict]) -> None:
    print(
        f"{'jobs':>8} {'first paint':>12} {'tab':>8} {'refresh median':>15}"
        f" {'max':>9} {'UI CPU':>9} {'snapshot':>9} {'beats/s alone':>14}"
        f" {'with UI':>8}"
    )
    for row in rows:
        jobs = f"{row['jobs']:,}"
        first_paint = f"{row['first_paint_s']:.3f} s"
        per_run = (
            f" {row['snapshot_median_ms']:>6.1f} ms"
            f" {row['beats_per_s_without_ui']:>14.2f}"
            f" {row['beats_per_s_with_ui']:>8.2f}"
        )
        for tab in ("pending", "done"):
            print(
                f"{jobs:>8} {first_paint:>12} {tab:>8}"
                f" {row[f'{tab}_median_ms']:>12.1f} ms"
                f" {row[f'{tab}_max_ms']:>6.1f} ms"
                f" {row[f'{tab}_cpu_median_ms']:>6.1f} ms" + per_run
            )
            jobs = first_paint = per_run = ""


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--jobs",
        type=int,
        nargs="+",
        default=[1000, 10_000, 100_000],
        help="job counts to measure (default: 1000 10000 100000)",
    )
    parser.add_argument(
        "--refreshes", type=int, default=20, help="timed refreshes per job count"
    )
    parser.add_argument(
        "--seconds",
        type=float,
        default=10.0,
        help="seconds the beat rate is counted, without and with the dashboard",
    )
    parser.add_argument(
        "--interval",
        type=float,
        default=0.2,
        help="the node's beat interval in seconds (default: 0.2, as NodeConfig.local)",
    )
    parser.add_argument(
        "--single",
        type=int,
        metavar="JOBS",
        help="measure one job count in this process and print its row as JSON; "
        "the default run starts one such process per job count",
    )
    parser.add_argument(
        "--profile",
        type=int,
        metavar="REFRESHES",
        help="instead of measuring, profile this many refreshes on the done tab "
        "at the largest --jobs and print the top functions",
    )
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    if args.profile:
        profile_refreshes(max(args.jobs), args)
        return 0
    if args.single is not None:
        print(json.dumps(run_one(args.single, args)))
        return 0

    header = {
        "bench": "tui",
        "run": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "commit": git_commit(),
        "machine": machine_info(),
        "size": list(SIZE),
        "interval_s": args.interval,
    }
    # Other processes on the machine slow every figure here, so the load
    # average before and after the run is kept with it.
    load_before = os.getloadavg()[0]
    rows = [measure_in_child(jobs, args) for jobs in args.jobs]
    header["load_average"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]

    machine = header["machine"]
    print(
        f"\ntui benchmark, commit {header['commit']}, {machine['nproc']} cores "
        f"({machine['cpu_model']}), Python {machine['python']}, "
        f"{SIZE[0]}x{SIZE[1]}, beat interval {args.interval}s, load average "
        f"{header['load_average'][0]} before and {header['load_average'][1]} after"
    )
    print_table(rows)

    RESULTS.parent.mkdir(exist_ok=True)
    with RESULTS.open("a") as file:
        file.write(json.dumps({**header, "rows": rows}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
