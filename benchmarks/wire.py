"""Cost of sealing frames with the cluster key, against plain frames.

Times encode+decode of gossip frames with and without ChaCha20-Poly1305
sealing, for an idle frame and for frames of 100 and 2,000 records, and
relates the sealing overhead of a typical round to the gossip interval.
Then times absorbing 10,000 changed records as a node does: decoding them
in frames of MAX_RECORDS_PER_FRAME and merging them into a replica of
100,000 jobs that contains older versions of them. Appends the figures to
benchmarks/results/wire.jsonl.

    python benchmarks/wire.py --interval 1.0
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from ants.comm.crypto import Channel, Keyring, generate_key, make_challenge
from ants.comm.wire import (
    MAX_RECORDS_PER_FRAME,
    Frame,
    MessageType,
    decode_body,
    encode_frame,
)
from ants.node.job import Job, JobStatus
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--interval", type=float, default=1.0,
                        help="gossip interval the overhead is compared with, in seconds")
    parser.add_argument("--fanout", type=int, default=3)
    args = parser.parse_args()
    keyring = Keyring.from_env(generate_key())
    rows = []
    print(f"{'records':>8} {'plain µs':>10} {'sealed µs':>10} {'overhead':>9} {'MB/s sealed':>12}")
    for records, repeat in ((0, 5000), (100, 300), (2000, 20)):
        frame = make_frame(records)
        size = len(encode_frame(frame))
        plain = time_round_trip(frame, None, repeat)
        sealed = time_round_trip(frame, keyring, repeat)
        rows.append({"records": records, "bytes": size, "plain_us": round(plain * 1e6, 1),
                     "sealed_us": round(sealed * 1e6, 1),
                     "overhead_pct": round(100 * (sealed - plain) / plain, 1)})
        print(f"{records:>8} {plain * 1e6:>10.1f} {sealed * 1e6:>10.1f} "
              f"{100 * (sealed - plain) / plain:>8.1f}% {size / sealed / 1e6:>12.1f}")

    # A round: `fanout` exchanges started plus about as many served, two frames each.
    frames_per_round = 4 * args.fanout
    idle = rows[0]
    busy = rows[1]
    idle_cost = frames_per_round * (idle["sealed_us"] - idle["plain_us"]) / 1e6
    busy_cost = frames_per_round * (busy["sealed_us"] - busy["plain_us"]) / 1e6
    summary = {
        "interval_s": args.interval,
        "frames_per_round": frames_per_round,
        "sealing_share_of_round_idle_pct": round(100 * idle_cost / args.interval, 3),
        "sealing_share_of_round_100_records_pct": round(100 * busy_cost / args.interval, 3),
    }
    # Best of three, as timeit reports, because other processes share the cores.
    runs = [time_absorb(10_000, held=100_000) for _ in range(3)]
    decode_s = min(decode for decode, _ in runs)
    merge_s = min(merge for _, merge in runs)
    summary["absorb_10000_decode_ms"] = round(decode_s * 1000, 1)
    summary["absorb_10000_merge_ms"] = round(merge_s * 1000, 1)
    summary["absorb_10000_share_of_interval_pct"] = round(
        100 * (decode_s + merge_s) / args.interval, 1
    )
    print(json.dumps(summary, indent=2))
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, cwd=HERE).stdout.strip()
    out = HERE / "results" / "wire.jsonl"
    out.parent.mkdir(exist_ok=True)
    with out.open("a") as file:
        file.write(json.dumps({"commit": commit, "rows": rows, **summary}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
