"""A node for benchmarks/cluster.py: creates jobs on command and logs what arrives.

The benchmark drives the cluster through a control file of JSON lines that
every node reads at each beat. Only the creator node makes jobs; every node
watches for them:

    {"cmd": "probe", "k": 3}          create one unclaimed job; every other node
                                      logs "seen" at the first beat it has it
    {"cmd": "work", "count": 2000}    create trivial jobs that any node claims
                                      and finishes with set_result
    {"cmd": "load", "count": 100000}  create unclaimed jobs in one beat
    {"cmd": "changes", "per_round": 10, "rounds": 30}
                                      create `per_round` new unclaimed jobs per
                                      gossip interval of wall time
    any command may carry "expect_total": each node logs "reached" once it
                                      has at least that many jobs

Every STATUS_EVERY seconds each node logs a "status" line with its job count,
live peers, beat count, its gossip traffic summed since start, and the
connections and frames its transport rejected.

Environment:
    ANTS_BENCH_LOG      JSON Lines file this node appends to.
    ANTS_BENCH_CONTROL  control file to read commands from.
    ANTS_BENCH_CREATE   "1" on the one node that creates jobs.
    ANTS_BENCH_STATUS   seconds between status lines (default 1.0).
    ANTS_BENCH_TAG      text mixed into job payloads so ids differ between runs.
"""

import json
import os
import threading
import time

import ants.comm.socket as socket_transport
from ants import BaseNode, Job
from ants.errors import FrameTooLarge

LOG_PATH = os.environ.get("ANTS_BENCH_LOG", "cluster-node.jsonl")
CONTROL_PATH = os.environ.get("ANTS_BENCH_CONTROL", "")
CREATES = os.environ.get("ANTS_BENCH_CREATE") == "1"
STATUS_EVERY = float(os.environ.get("ANTS_BENCH_STATUS", "1.0"))
TAG = os.environ.get("ANTS_BENCH_TAG", "")

_log_lock = threading.Lock()
_log_file = open(LOG_PATH, "a", buffering=1)


def _log(**fields):
    fields["t"] = time.time()
    line = json.dumps(fields)
    with _log_lock:
        _log_file.write(line + "\n")


# Frame sizes are measured by wrapping the transport's encoder. This only
# observes: it returns the encoder's bytes unchanged and re-raises its errors.
_frames = {"max_bytes": 0, "max_records": 0, "too_large": 0}
_encode_frame = socket_transport.encode_frame


def _measured_encode_frame(frame, channel=None):
    try:
        data = _encode_frame(frame, channel)
    except FrameTooLarge:
        _frames["too_large"] += 1
        raise
    if len(data) > _frames["max_bytes"]:
        _frames["max_bytes"] = len(data)
    if frame.record_count > _frames["max_records"]:
        _frames["max_records"] = frame.record_count
    return data


socket_transport.encode_frame = _measured_encode_frame


def probe_job(k):
    return Job("probe", {"k": k, "tag": TAG})


class ClusterNode(BaseNode):
    def on_start(self):
        self._control_offset = 0
        self._watched = {}
        """Probe job id -> probe number, for probes not seen yet."""
        self._targets = []
        """Job counts to log "reached" for, once the state has that many jobs."""
        self._to_create = []
        self._changes = None
        self._work_expected = 0
        self._work_done = 0
        self._work_reported = False
        self._traffic = {
            "bytes_out": 0,
            "bytes_in": 0,
            "records_out": 0,
            "records_in": 0,
            "exchanges": 0,
            "errors": 0,
        }
        self._last_traffic_time = 0.0
        self._last_status = 0.0
        _log(event="start", node=self.node_id, pid=os.getpid())

    # The beat: add_jobs runs on every beat, right after the peers' deltas are merged.

    def add_jobs(self):
        self._read_control()
        now = time.time()
        self._check_probes(now)
        self._check_targets(now)
        self._sum_traffic()
        if now - self._last_status >= STATUS_EVERY:
            self._last_status = now
            self._log_status()
        if not CREATES:
            return []
        jobs = self._to_create
        self._to_create = []
        jobs += self._due_changes(now)
        return jobs

    def assign_to_jobs(self, pending_jobs):
        return [job for job in pending_jobs if job.name == "work"]

    def do_jobs(self, my_assigned_jobs):
        for job in my_assigned_jobs:
            job.set_result({"by": self.node_id})
            _log(event="ran", node=self.node_id, job=job.id, attempt=job.attempt)

    def completed_jobs(self, done_jobs):
        self._work_done += sum(1 for job in done_jobs if job.name == "work")
        if (
            self._work_expected
            and not self._work_reported
            and self._work_done >= self._work_expected
        ):
            self._work_reported = True
            _log(event="work_done", node=self.node_id, count=self._work_done)

    # Commands

    def _read_control(self):
        if not CONTROL_PATH:
            return
        try:
            size = os.stat(CONTROL_PATH).st_size
        except FileNotFoundError:
            return
        if size <= self._control_offset:
            return
        with open(CONTROL_PATH, "rb") as file:
            file.seek(self._control_offset)
            data = file.read(size - self._control_offset)
        # Only whole lines count; a partly written line is read at the next beat.
        complete = data.rfind(b"\n") + 1
        self._control_offset += complete
        for line in data[:complete].splitlines():
            if line.strip():
                self._apply(json.loads(line))

    def _apply(self, command):
        name = command["cmd"]
        if "expect_total" in command:
            self._targets.append(command["expect_total"])
        if name == "probe":
            job = probe_job(command["k"])
            if CREATES:
                self._to_create.append(job)
                _log(event="created", kind="probe", k=command["k"], job=job.id)
            else:
                self._watched[job.id] = command["k"]
        elif name == "work":
            self._work_expected += command["count"]
            if CREATES:
                self._create_batch("work", command["count"])
        elif name == "load":
            if CREATES:
                self._create_batch(
                    "load", command["count"], start=command.get("start", 0)
                )
        elif name == "changes":
            self._changes = {
                "per_round": command["per_round"],
                "rounds": command["rounds"],
                "interval": command["interval"],
                "start": None,
                "made": 0,
            }

    def _create_batch(self, kind, count, start=0):
        began = time.time()
        batch = [
            Job(kind, {"i": index, "tag": TAG}) for index in range(start, start + count)
        ]
        self._to_create.extend(batch)
        _log(
            event="created",
            kind=kind,
            count=count,
            build_s=round(time.time() - began, 3),
        )

    def _due_changes(self, now):
        # New jobs are created at `per_round` per gossip interval of wall time,
        # so a slow beat creates a larger batch instead of lowering the rate.
        changes = self._changes
        if changes is None:
            return []
        if changes["start"] is None:
            changes["start"] = now
            _log(event="changes_start")
        total = changes["per_round"] * changes["rounds"]
        rounds_elapsed = int((now - changes["start"]) / changes["interval"]) + 1
        due = min(total, changes["per_round"] * rounds_elapsed) - changes["made"]
        batch = [
            Job("change", {"i": changes["made"] + offset, "tag": TAG})
            for offset in range(due)
        ]
        changes["made"] += due
        if changes["made"] >= total:
            self._changes = None
            _log(event="changes_end", count=total)
        return batch

    # Observations

    def _check_probes(self, now):
        for job_id, k in list(self._watched.items()):
            if self.state.get(job_id) is not None:
                del self._watched[job_id]
                _log(event="seen", node=self.node_id, k=k)

    def _check_targets(self, now):
        job_count = len(self.state)
        for target in list(self._targets):
            if job_count >= target:
                self._targets.remove(target)
                _log(event="reached", node=self.node_id, total=target, jobs=job_count)

    def _sum_traffic(self):
        # traffic() returns a ring buffer of the latest 1,000 exchanges, and far
        # fewer end between two beats; events newer than the last counted are added.
        events = self.communication.traffic()
        newest = self._last_traffic_time
        for event in events:
            if event.time <= self._last_traffic_time:
                continue
            newest = max(newest, event.time)
            self._traffic["bytes_out"] += event.bytes_out
            self._traffic["bytes_in"] += event.bytes_in
            self._traffic["records_out"] += event.records_out
            self._traffic["records_in"] += event.records_in
            self._traffic["exchanges"] += 1
            self._traffic["errors"] += event.error is not None
        self._last_traffic_time = newest

    def _log_status(self):
        members = self.communication.members()
        alive = sum(1 for m in members if not m.is_self and m.state == "alive")
        _log(
            event="status",
            node=self.node_id,
            jobs=len(self.state),
            alive=alive,
            beat=self.runtime.beat,
            frame_max_bytes=_frames["max_bytes"],
            frame_max_records=_frames["max_records"],
            frames_too_large=_frames["too_large"],
            rejected_connections=getattr(self.communication, "rejected_connections", 0),
            rejected_frames=getattr(self.communication, "rejected_frames", 0),
            sync_behind=self.communication.sync_behind(),
            **self._traffic,
        )
