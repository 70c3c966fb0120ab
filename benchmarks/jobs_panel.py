"""How long the dashboard's jobs panel takes per refresh with many jobs.

Starts the dashboard headless on one node whose state contains --jobs records
(40% pending, 3% assigned, 55% done, 2% failed), then times, on the UI
thread, the calls a refresh makes:

1. indexing a snapshot from scratch, as the jobs panel does with the first;
2. a snapshot whose jobs did not change;
3. a snapshot after --changes jobs changed, applied from the change journal;
4. a filter text, then a longer one, as typed into the filter bar;
5. switching the sort order.

For the changed snapshots it also times the call together with the
repaint that follows it, and an idle repaint to compare with. Each figure
is the median of --repeats runs, in milliseconds, and is
appended with the commit to benchmarks/results/jobs_panel.jsonl.

    PYTHONPATH=$PWD python benchmarks/jobs_panel.py               # 100,000 jobs
    PYTHONPATH=$PWD python benchmarks/jobs_panel.py --jobs 10000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from tui.bulk_jobs import bulk_records, load_records  # noqa: E402

from ants import BaseNode, MemoryCommunication, MemoryNetwork, NodeConfig  # noqa: E402
from ants.node.job import JobRecord, JobStatus  # noqa: E402
from ants.node.snapshot import NodeSnapshot  # noqa: E402
from ants.tui.app import make_app  # noqa: E402
from ants.tui.job_index import JobIndex, SortOrder  # noqa: E402
from ants.tui.widgets.jobs_panel import JobsPanel  # noqa: E402


class IdleNode(BaseNode):
    """Creates and claims nothing, so only the benchmark changes the jobs."""


def _timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return (time.perf_counter() - started) * 1000


async def _change_jobs(node: BaseNode, changed: list[JobRecord]) -> NodeSnapshot:
    """Merge `changed` on the beat thread; return the first snapshot that has them."""
    node.runtime.call_soon(lambda: node.state.merge(changed)).result(5)
    wanted = {record.id: record for record in changed}
    while True:
        snapshot = node.snapshot()
        last = snapshot.job_changes[-1] if snapshot.job_changes else None
        if last is not None and wanted.get(last.job_id) is last.record:
            return snapshot
        await asyncio.sleep(0.05)


async def _timed_pause(pilot) -> float:
    started = time.perf_counter()
    await pilot.pause()
    return (time.perf_counter() - started) * 1000


async def _next_snapshot(node: BaseNode, version: int) -> NodeSnapshot:
    snapshot = node.snapshot()
    while snapshot.version == version:
        await asyncio.sleep(0.05)
        snapshot = node.snapshot()
    return snapshot


async def measure(args: argparse.Namespace) -> dict[str, float]:
    # A long dead_after keeps the node from re-queueing jobs of the made-up owners.
    config = NodeConfig.local(observe=True, suspect_after=3000.0, dead_after=3600.0)
    node = IdleNode(config, MemoryCommunication(MemoryNetwork(seed=1), "bench"))
    records = bulk_records(args.jobs)
    load_records(node, records)
    pending = [record for record in records if record.status is JobStatus.PENDING]
    app = make_app(node, reload=False)
    figures: dict[str, list[float]] = {}

    def note(name: str, milliseconds: float) -> None:
        figures.setdefault(name, []).append(milliseconds)

    async with app.run_test(size=(160, 50)) as pilot:
        jobs = app.query_one(JobsPanel)
        await pilot.press("p")  # the benchmark applies every snapshot itself
        note("index from scratch", _timed(lambda: JobIndex().update(node.snapshot())))
        for _ in range(args.repeats):
            snapshot = await _next_snapshot(node, jobs.snapshot.version)
            note("unchanged jobs", _timed(partial(jobs.apply_snapshot, snapshot)))
            await pilot.pause()

            # Newest first, the finished jobs move to the top, so most rows change.
            for order in (SortOrder.PROBLEMS, SortOrder.NEWEST):
                jobs.set_order(order)
                await pilot.pause()
                changed = [
                    record.with_changes(status=JobStatus.DONE, finished=time.time())
                    for record in pending[: args.changes]
                ]
                del pending[: args.changes]
                snapshot = await _change_jobs(node, changed)
                rebuilds = jobs.index.full_rebuilds
                name = f"{args.changes} changed, {order.value}"
                started = time.perf_counter()
                note(name, _timed(partial(jobs.apply_snapshot, snapshot)))
                assert jobs.index.full_rebuilds == rebuilds, (
                    "the journal missed changes"
                )
                await pilot.pause()
                repainted = (time.perf_counter() - started) * 1000
                note(f"{name}, with repaint", repainted)

            # The cost of a pause with nothing to do, to subtract from the above.
            note("idle pause", await _timed_pause(pilot))

            note("filter 'bulk-1'", _timed(lambda: jobs.set_filter_text("bulk-1")))
            note("filter 'bulk-12'", _timed(lambda: jobs.set_filter_text("bulk-12")))
            note("clear filter", _timed(jobs.clear_filter))
            await pilot.pause()
            note("switch sort", _timed(jobs.action_toggle_sort))
            await pilot.pause()
    return {
        name: round(statistics.median(values), 1) for name, values in figures.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--jobs", type=int, default=100_000, help="records in the state"
    )
    parser.add_argument(
        "--changes", type=int, default=300, help="jobs changed between two snapshots"
    )
    parser.add_argument("--repeats", type=int, default=5, help="runs per figure")
    args = parser.parse_args()
    figures = asyncio.run(measure(args))
    for name, milliseconds in figures.items():
        print(f"{name:>34}: {milliseconds:8.1f} ms")
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        cwd=HERE,
    ).stdout.strip()
    line = {"commit": commit, "jobs": args.jobs, "changes": args.changes, **figures}
    with (HERE / "results" / "jobs_panel.jsonl").open("a") as out:
        out.write(json.dumps(line) + "\n")


if __name__ == "__main__":
    main()
