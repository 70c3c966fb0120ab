"""Cost of sealing frames with the cluster key, against plain frames.

Times encode+decode of gossip frames with and without ChaCha20-Poly1305
sealing, for an idle frame and for frames of 100 and 2,000 records, as
microseconds per frame, frames per second and MB per second. Then runs two
real nodes on 127.0.0.1, in this process, idle and then with new jobs every
beat, once with a cluster key and once without. It times every push-pull
exchange (one gossip round between two nodes) and every seal and open, and
reports the share of the round's time spent sealing. Last, it times
absorbing 10,000 changed records as a node does: decoding them in frames of
MAX_RECORDS_PER_FRAME and merging them into a replica of 100,000 jobs that
contains older versions of them. Appends the figures to
benchmarks/results/wire.jsonl.

    python benchmarks/wire.py --interval 0.2 --seconds 10
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

from ants import BaseNode, NodeConfig, SocketCommunication
from ants.comm.crypto import Channel, Keyring, generate_key, make_challenge
from ants.comm.wire import (
    MAX_RECORDS_PER_FRAME,
    Frame,
    MessageType,
    decode_body,
    encode_frame,
)
from ants.node.job import Job, JobStatus
from ants.node.snapshot import TrafficEvent
from ants.node.state import Delta, State

HERE = Path(__file__).parent


def make_frame(records: int) -> Frame:
    jobs = [
        Job("bench", {"index": index, "host": f"10.0.{index % 250}.1"})
        .record.with_changes(status=JobStatus.DONE, owner="0123456789abcdef",
                             result={"ok": True, "ms": 12.5}, max_attempts=3,
                             finished=time.time())
        for index in range(records)
    ]
    origin = "0123456789abcdef/0a1b2c3d"
    return Frame(MessageType.EXCHANGE, "0123456789abcdef", "127.0.0.1:9000", 1,
                 digest={origin: records}, reach={origin: records}, jobs=jobs,
                 stamps={job.id: (origin, index + 1) for index, job in enumerate(jobs)})


def time_round_trip(frame: Frame, keyring: Keyring | None, repeat: int) -> float:
    """Return seconds per encode+decode of `frame`, sealed when a keyring is given."""
    server_challenge, client_challenge = make_challenge(), make_challenge()
    started = time.perf_counter()
    for _ in range(repeat):
        sender = receiver = None
        if keyring is not None:
            sender = Channel(keyring, server_challenge, client_challenge, is_server=False)
            receiver = Channel(keyring, server_challenge, client_challenge, is_server=True)
        data = encode_frame(frame, sender)
        decode_body(data[4:], "bench", receiver)
    return (time.perf_counter() - started) / repeat


def time_absorb(records: int, held: int) -> tuple[float, float]:
    """Return seconds to decode and to merge `records` changed records, in full frames.

    The replica contains `held` jobs, and the changed ones are from the middle
    of its creator's versions.
    """
    origin = "0123456789abcdef/0a1b2c3d"
    older = [
        Job("bench", {"index": index, "host": f"10.0.{index % 250}.1"}).record.with_changes(
            status=JobStatus.PENDING, max_attempts=3, created=time.time())
        for index in range(held)
    ]
    replica = State()
    for record in older:
        replica.merge_job(record)

    first = (held - records) // 2
    newer = [record.with_changes(status=JobStatus.DONE, owner="0123456789abcdef",
                                 result={"ok": True, "ms": 12.5}, finished=time.time())
             for record in older[first:first + records]]
    bodies = []
    for start in range(0, records, MAX_RECORDS_PER_FRAME):
        chunk = newer[start:start + MAX_RECORDS_PER_FRAME]
        frame = Frame(MessageType.EXCHANGE, "0123456789abcdef", "127.0.0.1:9000", 1,
                      digest={origin: start + len(chunk)},
                      reach={origin: start + len(chunk)}, jobs=chunk,
                      stamps={job.id: (origin, start + index + 1)
                              for index, job in enumerate(chunk)})
        bodies.append(encode_frame(frame)[4:])

    started = time.perf_counter()
    frames = [decode_body(body, "bench") for body in bodies]
    decoded = time.perf_counter()
    changed = 0
    for frame in frames:
        delta = Delta(tuple(frame.jobs), (), frame.stamps, frame.reach)
        changed += len(replica.merge(delta))
    merged = time.perf_counter()

    if changed != records:
        raise RuntimeError(f"{changed} of {records} records won the merge, expected all")
    return decoded - started, merged - decoded


class LoadNode(BaseNode):
    """A node that creates `jobs_per_beat` new jobs every beat while `loaded` is set."""

    jobs_per_beat = 0

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.loaded = threading.Event()
        self.created = 0

    def add_jobs(self) -> list[Job]:
        if not self.loaded.is_set():
            return []
        start = self.created
        self.created += self.jobs_per_beat
        return [Job("load", {"n": n, "by": self.node_id}) for n in range(start, self.created)]

    def do_jobs(self, my_assigned_jobs: list[Job]) -> None:
        for job in my_assigned_jobs:
            job.set_result({"ok": True})


class CryptoTimer:
    """A wrapper of a keyring's seal and open that adds up the seconds they take."""

    def __init__(self, keyring: Keyring) -> None:
        self.seconds = 0.0
        self.calls = 0
        self._lock = threading.Lock()
        for name in ("seal", "open"):
            setattr(keyring, name, self._timed(getattr(keyring, name)))

    def _timed(self, method):
        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - started
                with self._lock:
                    self.seconds += elapsed
                    self.calls += 1
        return timed


def time_rounds(keyed: bool, interval: float, seconds: float, jobs_per_beat: int) -> dict:
    """Run two nodes for `seconds`, and time their exchanges and their sealing."""
    key = generate_key()
    nodes: list[LoadNode] = []
    timers: list[CryptoTimer] = []
    for index in range(2):
        keyring = Keyring.from_env(key) if keyed else None
        if keyring is not None:
            timers.append(CryptoTimer(keyring))
        bootstrap = [nodes[0].communication.listen_address] if nodes else []
        communication = SocketCommunication(
            port=0, pull_interval=interval, bootstrap_nodes=bootstrap, keyring=keyring,
            seed=index,
        )
        node = LoadNode(NodeConfig.local(heartbeat_interval=interval), communication)
        node.jobs_per_beat = jobs_per_beat
        node.start()
        nodes.append(node)
    try:
        deadline = time.monotonic() + 10
        while any(len(n.communication.members()) < 2 for n in nodes):
            if time.monotonic() > deadline:
                raise RuntimeError("the two benchmark nodes did not find each other in 10 s")
            time.sleep(0.05)
        time.sleep(2 * interval)
        before = [len(n.communication.traffic()) for n in nodes]
        crypto_before = sum(t.seconds for t in timers)
        calls_before = sum(t.calls for t in timers)
        for node in nodes:
            node.loaded.set()
        time.sleep(seconds)
        crypto = sum(t.seconds for t in timers) - crypto_before
        calls = sum(t.calls for t in timers) - calls_before
        events: list[TrafficEvent] = []
        for node, start in zip(nodes, before):
            events += [
                e for e in node.communication.traffic()[start:]
                if e.direction == "out" and e.error is None
            ]
    finally:
        for node in nodes:
            node.shutdown()
    if not events:
        raise RuntimeError("no exchange finished during the measurement")
    durations = [e.duration for e in events]
    total = sum(durations)
    return {
        "keyed": keyed,
        "jobs_per_beat": jobs_per_beat,
        "rounds": len(events),
        "records_per_round": round(sum(e.records_out + e.records_in for e in events) / len(events), 1),
        "round_ms_median": round(statistics.median(durations) * 1000, 3),
        "round_ms_mean": round(total / len(events) * 1000, 3),
        "seal_open_calls": calls,
        "sealing_ms_per_round": round(crypto / len(events) * 1000, 4),
        "sealing_share_of_round_pct": round(100 * crypto / total, 2) if keyed else 0.0,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--interval", type=float, default=0.2,
                        help="gossip interval of the two real nodes, in seconds")
    parser.add_argument("--seconds", type=float, default=10.0,
                        help="seconds each of the four real-node runs is measured")
    parser.add_argument("--jobs-per-beat", type=int, default=20,
                        help="jobs each node creates per beat in the loaded runs")
    args = parser.parse_args()
    keyring = Keyring.from_env(generate_key())
    rows = []
    print(f"{'records':>8} {'bytes':>8} {'plain µs':>10} {'sealed µs':>10} {'overhead':>9} "
          f"{'plain f/s':>10} {'sealed f/s':>11} {'plain MB/s':>11} {'sealed MB/s':>12}")
    for records, repeat in ((0, 5000), (100, 300), (2000, 20)):
        frame = make_frame(records)
        size = len(encode_frame(frame))
        plain = time_round_trip(frame, None, repeat)
        sealed = time_round_trip(frame, keyring, repeat)
        row = {
            "records": records, "bytes": size,
            "plain_us": round(plain * 1e6, 1), "sealed_us": round(sealed * 1e6, 1),
            "overhead_pct": round(100 * (sealed - plain) / plain, 1),
            "plain_frames_per_s": round(1 / plain), "sealed_frames_per_s": round(1 / sealed),
            "plain_mb_per_s": round(size / plain / 1e6, 1),
            "sealed_mb_per_s": round(size / sealed / 1e6, 1),
        }
        rows.append(row)
        print(f"{records:>8} {size:>8} {row['plain_us']:>10} {row['sealed_us']:>10} "
              f"{row['overhead_pct']:>8}% {row['plain_frames_per_s']:>10} "
              f"{row['sealed_frames_per_s']:>11} {row['plain_mb_per_s']:>11} "
              f"{row['sealed_mb_per_s']:>12}")

    rounds = []
    for jobs_per_beat in (0, args.jobs_per_beat):
        plain, keyed = (
            time_rounds(keyed, args.interval, args.seconds, jobs_per_beat)
            for keyed in (False, True)
        )
        # The keyed round also sends and reads each side's challenge frame.
        keyed["round_median_vs_plain_pct"] = round(
            100 * (keyed["round_ms_median"] / plain["round_ms_median"] - 1), 1
        )
        rounds += [plain, keyed]
        print(json.dumps(plain))
        print(json.dumps(keyed))

    summary: dict = {"interval_s": args.interval, "rounds": rounds}
    # Best of three, as timeit reports, because other processes share the cores.
    runs = [time_absorb(10_000, held=100_000) for _ in range(3)]
    decode_s = min(decode for decode, _ in runs)
    merge_s = min(merge for _, merge in runs)
    summary["absorb_10000_decode_ms"] = round(decode_s * 1000, 1)
    summary["absorb_10000_merge_ms"] = round(merge_s * 1000, 1)
    print(json.dumps({k: v for k, v in summary.items() if k != "rounds"}, indent=2))
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, cwd=HERE).stdout.strip()
    machine = f"{platform.machine()}, {platform.python_version()}"
    out = HERE / "results" / "wire.jsonl"
    out.parent.mkdir(exist_ok=True)
    with out.open("a") as file:
        file.write(json.dumps({"commit": commit, "machine": machine, "rows": rows, **summary})
                   + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
