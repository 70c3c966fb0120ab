"""Long fuzzing of the frame decoder, run by hand.

Feeds `decode_body` random bytes, truncations and byte flips of valid frames,
and valid msgpack with wrong types, deep nesting and huge lengths, and checks
that it returns a Frame or raises ProtocolError and nothing else. Prints the
number of inputs tried and appends it to benchmarks/results/fuzz.jsonl.

    python benchmarks/fuzz.py --seconds 300 --seed 1
"""

from __future__ import annotations

import argparse
import json
import random
import struct
import subprocess
import sys
import time
import traceback
from pathlib import Path

import msgpack

from ants.comm.wire import Frame, MessageType, decode_body, encode_frame
from ants.errors import ProtocolError
from ants.node.job import Job, JobStatus

HERE = Path(__file__).parent


def valid_frames() -> list[bytes]:
    record = Job("fuzz", {"a": [1, 2.5, "x", None, b"\x00"]}).record.with_changes(
        status=JobStatus.ASSIGNED, owner="0123456789abcdef", max_attempts=3
    )
    frames = [
        Frame(MessageType.EXCHANGE, "0123456789abcdef", "127.0.0.1:1", 5),
        Frame(MessageType.REPLY, "0123456789abcdef", "127.0.0.1:1", 5,
              digest={"0123456789abcdef/1": 3}, reach={"0123456789abcdef/1": 3},
              more=True, jobs=[record], stamps={record.id: ("0123456789abcdef/1", 3)}),
    ]
    return [encode_frame(frame)[4:] for frame in frames]


def wrong_types(rng: random.Random) -> bytes:
    body = msgpack.unpackb(rng.choice(valid_frames()), raw=False)
    key = rng.choice(list(body))
    body[key] = rng.choice([None, True, -1, 2**63, 1.5, "x" * rng.randrange(100), b"\xff",
                            [], {}, [[[]]], {"k": "v"}])
    return msgpack.packb(body, use_bin_type=True)


def deep(rng: random.Random) -> bytes:
    depth = rng.randrange(10, 3000)
    return b"\x91" * depth + b"\xc0"


def huge_length(rng: random.Random) -> bytes:
    marker = rng.choice([b"\xdd", b"\xdf", b"\xdb", b"\xc6"])
    return marker + struct.pack(">I", rng.randrange(2**20, 2**32))


def mutate(rng: random.Random) -> bytes:
    data = bytearray(rng.choice(valid_frames()))
    for _ in range(rng.randrange(1, 8)):
        position = rng.randrange(len(data))
        data[position] = rng.randrange(256)
    if rng.random() < 0.3:
        data = data[: rng.randrange(len(data))]
    return bytes(data)


def random_bytes(rng: random.Random) -> bytes:
    return bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 200)))


GENERATORS = [random_bytes, mutate, wrong_types, deep, huge_length]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    tried = rejected = accepted = 0
    deadline = time.monotonic() + args.seconds
    while time.monotonic() < deadline:
        data = rng.choice(GENERATORS)(rng)
        tried += 1
        try:
            decode_body(data, "fuzz")
            accepted += 1
        except ProtocolError:
            rejected += 1
        except Exception:
            print(f"unexpected error on input {data[:80]!r}")
            traceback.print_exc()
            return 1
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, cwd=HERE).stdout.strip()
    result = {"commit": commit, "seed": args.seed, "seconds": args.seconds, "inputs": tried,
              "rejected": rejected, "accepted": accepted, "unexpected": 0}
    print(json.dumps(result))
    out = HERE / "results" / "fuzz.jsonl"
    out.parent.mkdir(exist_ok=True)
    with out.open("a") as file:
        file.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
