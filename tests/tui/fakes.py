"""A fake node with one fixed snapshot and a frozen clock, for repeatable screenshots.

`build_fixed_app()` returns a dashboard on a `FakeNode` that always returns
`fixed_snapshot()`: a node with peers in every member state, jobs in every
status, traffic, events and log lines, all at fixed times. Nothing runs in
the background. Run the app inside `fixed_conditions()` so that ages,
rates and clock times come out the same on every machine.

The snapshot tests and scripts/screenshots.py both use this module, and
open the views with the same steps (`open_job_detail`, `open_keys`).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

from ants.node.job import JobRecord, JobStatus, make_job_id
from ants.node.snapshot import (
    JobTransition,
    MemberView,
    NodeEvent,
    NodeSnapshot,
    TrafficEvent,
)
from ants.tui.app import REFRESH_INTERVAL, AntsApp, make_app
from ants.tui.logbuffer import LogBuffer
from ants.tui.widgets.jobs_panel import JobsPanel

NOW = 1_767_268_800.0
"""The frozen wall-clock time: 2026-01-01 12:00:00 UTC."""

SELF_ID = "a1b2c3d4e5f60718"
PEER_IDS = {
    "alive": ("b7e10c2f9a4d3e51", "c03f5a8e7d1b2c94"),
    "suspect": ("d4a9e2b81f6c7035",),
    "dead": ("e5c8f1a03b9d4e62",),
    "left": ("f6d7a2c94e0b1f83",),
}
"""Peer node ids by the member state this node gives them."""

UPTIME = 754.0
"""Seconds the fake node has run: "12m34s" in the header."""

FAILED_TRACEBACK = """\
Traceback (most recent call last):
  File "primes.py", line 21, in do_jobs
    raise ValueError(f"{below} is a multiple of 13000")
ValueError: 26000 is a multiple of 13000"""


class FrozenClock:
    """A wall clock that stays at `now` until a test moves it.

    Callable like `time.time`, for `AntsApp(clock=...)`.
    """

    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


ENVIRONMENT_OVERRIDES = ("NO_COLOR", "COLUMNS", "LINES")
"""Variables that change how Textual or Rich draw; unset while screenshots are taken."""


@contextmanager
def fixed_conditions() -> Iterator[None]:
    """Fix the time zone and environment that a screenshot depends on.

    Clock times ("12:00:00") are local, so the time zone is UTC for the
    duration. The variables in ENVIRONMENT_OVERRIDES are unset. Both are
    restored afterwards. Build the app inside this block: Textual reads
    NO_COLOR when an app is created.
    """
    saved = {name: os.environ.get(name) for name in ("TZ", *ENVIRONMENT_OVERRIDES)}
    for name in ENVIRONMENT_OVERRIDES:
        os.environ.pop(name, None)
    os.environ["TZ"] = "UTC"
    time.tzset()
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        time.tzset()


async def settle(pilot, interval: float = 0.25, timeout: float = 10.0) -> None:
    """Pause until two screenshots `interval` seconds apart are the same.

    Some updates wait for the next screen refresh, such as the footer's
    after a screen is pushed, so one pause is not always enough.
    """
    deadline = time.monotonic() + timeout
    previous = None
    while True:
        await pilot.pause(interval)
        current = pilot.app.export_screenshot()
        if current == previous:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"the screen still changed after {timeout}s")
        previous = current


class FakeRuntime:
    """The parts of NodeRuntime that the dashboard reads."""

    def __init__(self, reloads: int) -> None:
        self.started_at: float | None = 0.0
        """Not None, so the app does not try to start the fake node."""
        self.reloads = reloads
        self.stopped = False

    @property
    def is_running(self) -> bool:
        return not self.stopped


class FakeNode:
    """Stands in for a started BaseNode; `snapshot()` returns the same snapshot."""

    def __init__(self, snapshot: NodeSnapshot) -> None:
        self._snapshot = snapshot
        self.runtime = FakeRuntime(snapshot.reloads)

    @property
    def node_id(self) -> str:
        return self._snapshot.node_id

    def start(self) -> None:
        """Do nothing: the fake node has no threads to start."""

    def shutdown(self, timeout: float = 2.0) -> None:
        self.runtime.stopped = True

    def snapshot(self) -> NodeSnapshot:
        return self._snapshot

    def job_history(self, job_id: str) -> tuple[JobTransition, ...]:
        """Return made-up transitions that lead to the job's record in the snapshot."""
        record = next((r for r in self._snapshot.jobs if r.id == job_id), None)
        if record is None:
            return ()
        end = record.finished if record.finished is not None else record.created + 60.0
        step = (end - record.created) / (2 * record.attempt + 3)
        history = [JobTransition(record.created, JobStatus.PENDING, None, 0)]
        for attempt in range(record.attempt + 1):
            claimed = record.created + (2 * attempt + 1) * step
            history.append(JobTransition(claimed, JobStatus.ASSIGNED, record.owner, attempt))
            if attempt < record.attempt:
                history.append(JobTransition(
                    claimed + step, JobStatus.PENDING, record.owner, attempt + 1, record.error
                ))
        if record.is_terminal:
            history.append(JobTransition(
                end, record.status, record.owner, record.attempt, record.error
            ))
        return tuple(history)


def _job(
    below: int,
    status: JobStatus,
    *,
    age: float,
    took: float | None = None,
    owner: str | None = None,
    attempt: int = 0,
    error: str | None = None,
) -> JobRecord:
    """Return a count-primes job created `age` seconds before NOW."""
    payload = {"below": below}
    created = NOW - age
    result = None
    finished = None
    if status is JobStatus.DONE:
        result = {"below": below, "primes": _count_primes(below)}
    if status.is_terminal:
        finished = created + (took if took is not None else 1.0)
    return JobRecord(
        id=make_job_id("count-primes", payload),
        name="count-primes",
        payload=payload,
        status=status,
        attempt=attempt,
        owner=owner,
        result=result,
        error=error,
        max_attempts=2,
        creator=SELF_ID,
        created=created,
        finished=finished,
    )


def _count_primes(below: int) -> int:
    sieve = bytearray([1]) * below
    sieve[:2] = b"\0\0"
    for k in range(2, int(below**0.5) + 1):
        if sieve[k]:
            sieve[k * k :: k] = bytes(len(range(k * k, below, k)))
    return sum(sieve)


def fixed_jobs() -> tuple[JobRecord, ...]:
    """Return 24 jobs: 6 pending, 4 assigned, 11 done and 3 failed."""
    alive, other = PEER_IDS["alive"]
    lost = "timed out after 30s (attempt 1)"
    jobs = [
        _job(1000 * n, JobStatus.PENDING, age=5.0 * (55 - n)) for n in range(50, 55)
    ]
    jobs.append(
        _job(55_000, JobStatus.PENDING, age=95.0, attempt=1, owner=other, error=lost)
    )
    jobs += [
        _job(46_000, JobStatus.ASSIGNED, age=50.0, owner=SELF_ID),
        _job(47_000, JobStatus.ASSIGNED, age=49.0, owner=SELF_ID),
        _job(48_000, JobStatus.ASSIGNED, age=48.0, owner=alive),
        _job(49_000, JobStatus.ASSIGNED, age=47.0, owner=other),
    ]
    owners = (SELF_ID, alive, other)
    for n in range(1, 12):
        jobs.append(
            _job(
                1000 * n,
                JobStatus.DONE,
                age=700.0 - 30 * n,
                took=0.05 * n,
                owner=owners[n % 3],
            )
        )
    for below, owner in ((13_000, alive), (26_000, SELF_ID), (39_000, other)):
        error = FAILED_TRACEBACK.replace("26000", str(below))
        jobs.append(
            _job(
                below,
                JobStatus.FAILED,
                age=400.0,
                took=2.5,
                owner=owner,
                attempt=1,
                error=error,
            )
        )
    return tuple(jobs)


def fixed_members() -> tuple[MemberView, ...]:
    """Return this node and six peers: two alive, one suspect, one dead, one left."""
    members = [MemberView(SELF_ID, "127.0.0.1:9000", "alive", 3771, 0.0, None, True)]
    last_heard = {"alive": 0.4, "suspect": 4.2, "dead": 31.0, "left": 120.0}
    port = 9001
    for state, ids in PEER_IDS.items():
        for index, node_id in enumerate(ids):
            rtt = 0.0012 + 0.0007 * index if state == "alive" else None
            heartbeat = 3700 - 40 * (port - 9000)
            members.append(
                MemberView(
                    node_id,
                    f"127.0.0.1:{port}",
                    state,
                    heartbeat,
                    last_heard[state] + index,
                    rtt,
                )
            )
            port += 1
    return tuple(members)


def fixed_traffic() -> tuple[TrafficEvent, ...]:
    """Return 12 exchanges over the last 6 seconds, one that timed out."""
    alive, other = PEER_IDS["alive"]
    events = []
    for index in range(12):
        peer_id = (alive, other)[index % 2]
        port = 9001 + index % 2
        error = None
        if index == 7:
            peer_id, port = PEER_IDS["suspect"][0], 9003
            error = "timed out after 2.0s"
        events.append(
            TrafficEvent(
                time=NOW - 6.0 + 0.5 * index,
                peer=f"127.0.0.1:{port}",
                peer_id=peer_id,
                direction="out" if index % 3 else "in",
                bytes_out=180 + 37 * index,
                bytes_in=0 if error else 2400 + 410 * (index % 4),
                records_out=index % 3,
                records_in=0 if error else 4 + index % 5,
                duration=2.0 if error else 0.0015 + 0.0004 * index,
                error=error,
            )
        )
    return tuple(events)


def fixed_rates() -> tuple[tuple[float, int, int, int, int], ...]:
    """Return per-second traffic totals for the last minute, with a burst in it."""
    rates = []
    for ago in range(59, -1, -1):
        second = float(int(NOW) - ago)
        burst = 6 if 20 <= ago < 26 else 1
        bytes_out = (400 + 90 * (ago % 7)) * burst
        bytes_in = (2600 + 350 * (ago % 5)) * burst
        rates.append((second, bytes_out, bytes_in, 2 * burst, 9 * burst))
    return tuple(rates)


def fixed_events() -> tuple[NodeEvent, ...]:
    """Return node events of every kind the log panel colours."""
    jobs = fixed_jobs()
    return (
        NodeEvent(NOW - UPTIME, "node", "started"),
        NodeEvent(NOW - 700.0, "job", "added 60 job(s) from add_jobs"),
        NodeEvent(NOW - 400.0 + 2.5, "job", "count-primes failed", jobs[-2].id),
        NodeEvent(NOW - 300.0, "reload", "reloaded PrimeCounter (reload 2)"),
        NodeEvent(
            NOW - 95.0, "requeue", "count-primes: timed out after 30s", jobs[5].id
        ),
        NodeEvent(NOW - 20.0, "hook", "completed_jobs raised: KeyError: 'primes'"),
    )


def fixed_snapshot() -> NodeSnapshot:
    """Return the snapshot that FakeNode shows."""
    jobs = fixed_jobs()
    counts = {status: 0 for status in JobStatus}
    for record in jobs:
        counts[record.status] += 1
    return NodeSnapshot(
        version=1,
        node_id=SELF_ID,
        node_class="PrimeCounter",
        listen="127.0.0.1:9000",
        advertise="127.0.0.1:9000",
        beat=3771,
        uptime=UPTIME,
        paused=False,
        observe=False,
        jobs=jobs,
        counts=counts,
        members=fixed_members(),
        traffic=fixed_traffic(),
        rates=fixed_rates(),
        events=fixed_events(),
        reloads=2,
    )


def fixed_log_buffer() -> LogBuffer:
    """Return a log buffer holding log records with fixed times, not installed."""
    jobs = fixed_jobs()
    failed = jobs[-2]
    requeued = jobs[5]
    runtime = "ants.node.runtime"
    entries = [
        (
            -UPTIME,
            logging.INFO,
            runtime,
            f"node {SELF_ID} (PrimeCounter) started, listening on 127.0.0.1:9000",
        ),
        (
            -700.0,
            logging.INFO,
            runtime,
            f"node {SELF_ID} added 60 job(s) from add_jobs",
        ),
        (
            -397.5,
            logging.WARNING,
            runtime,
            f"job {failed.id} (count-primes) failed on its last attempt, 2 of 2: "
            "ValueError: 26000 is a multiple of 13000",
        ),
        (
            -300.0,
            logging.INFO,
            runtime,
            f"node {SELF_ID} reloaded PrimeCounter from primes (reload 2)",
        ),
        (
            -95.0,
            logging.INFO,
            runtime,
            f"node {SELF_ID} re-queued job {requeued.id} (count-primes) after "
            "attempt 1, because timed out after 30s (attempt 1)",
        ),
        (
            -20.0,
            logging.ERROR,
            runtime,
            "hook completed_jobs of PrimeCounter raised (failure 1); "
            "the node keeps running",
        ),
        (-3.0, logging.INFO, "primes", "3512 primes below 33000"),
    ]
    buffer = LogBuffer()
    for offset, level, name, message in entries:
        record = logging.LogRecord(name, level, __file__, 0, message, None, None)
        record.created = NOW + offset
        record.msecs = 0.0
        buffer.handle(record)
    return buffer


def build_fixed_app(
    clock: FrozenClock | None = None, refresh_interval: float = REFRESH_INTERVAL
) -> AntsApp:
    """Return a dashboard on a FakeNode with fixed log lines and a frozen clock."""
    return make_app(
        FakeNode(fixed_snapshot()),
        reload=False,
        log_buffer=fixed_log_buffer(),
        clock=clock or FrozenClock(),
        refresh_interval=refresh_interval,
    )


def failed_job_id() -> str:
    """Return the id of the first failed job in the fixed snapshot."""
    return next(r.id for r in fixed_jobs() if r.status is JobStatus.FAILED)


async def open_job_detail(pilot) -> None:
    """Open the detail screen of `failed_job_id()` as Enter on its row would."""
    pilot.app.post_message(JobsPanel.JobSelected(failed_job_id()))
    await settle(pilot)


async def open_keys(pilot) -> None:
    """Press ? to open the keys screen."""
    await pilot.press("question_mark")
    await settle(pilot)
