"""Long fuzzing of the frame decoder, run by hand.

Feeds `decode_body` random bytes, truncations and byte flips of valid frames,
and valid msgpack with wrong types, deep nesting and huge lengths, and checks
that it returns a Frame or raises ProtocolError and nothing else. Sealed
inputs go through a keyed channel: random bytes and bit flips of sealed
frames must fail authentication, and garbage sealed with the key must decode
or raise ProtocolError. Prints the number of inputs tried and appends it to
benchmarks/results/fuzz.jsonl.

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

from ants.comm.crypto import AuthenticationFailed, Channel, Keyring, make_challenge
from ants.comm.wire import PROTOCOL_VERSION, Frame, MessageType, decode_body, encode_frame
from ants.errors import ProtocolError
from ants.node.job import Job, JobStatus

HERE = Path(__file__).parent
KEYRING = Keyring.from_env("AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=")


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


def channel_pair() -> tuple[Channel, Channel]:
    """Return the client's and the server's channel of one connection."""
    server_challenge, client_challenge = make_challenge(), make_challenge()
    return (
        Channel(KEYRING, server_challenge, client_challenge, is_server=False),
        Channel(KEYRING, server_challenge, client_challenge, is_server=True),
    )


def sealed_random(rng: random.Random) -> tuple[bytes, Channel, bool]:
    return random_bytes(rng), channel_pair()[1], True


def sealed_flip(rng: random.Random) -> tuple[bytes, Channel, bool]:
    client, server = channel_pair()
    body = rng.choice(valid_frames())
    sealed = client.seal(int(MessageType.EXCHANGE), PROTOCOL_VERSION, body)
    data = bytearray(sealed)
    position = rng.randrange(len(data))
    data[position] ^= 1 << rng.randrange(8)
    return bytes(data), server, True


def sealed_garbage(rng: random.Random) -> tuple[bytes, Channel, bool]:
    client, server = channel_pair()
    plaintext = rng.choice([random_bytes, mutate, wrong_types, deep, huge_length])(rng)
    return client.seal(int(MessageType.EXCHANGE), PROTOCOL_VERSION, plaintext), server, False


GENERATORS = [random_bytes, mutate, wrong_types, deep, huge_length]
SEALED_GENERATORS = [sealed_random, sealed_flip, sealed_garbage]


def try_input(data: bytes, channel: Channel | None, must_fail_authentication: bool) -> bool:
    """Decode one input and return whether it was accepted.

    Raises AssertionError when a forged sealed input passes authentication,
    and lets any exception other than ProtocolError through.
    """
    try:
        decode_body(data, "fuzz", channel)
    except AuthenticationFailed:
        return False
    except ProtocolError:
        if not must_fail_authentication:
            return False
    if must_fail_authentication:
        raise AssertionError("a forged sealed input passed authentication")
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    tried = rejected = accepted = sealed = 0
    deadline = time.monotonic() + args.seconds
    while time.monotonic() < deadline:
        channel = None
        must_fail_authentication = False
        if rng.random() < 0.25:
            data, channel, must_fail_authentication = rng.choice(SEALED_GENERATORS)(rng)
            sealed += 1
        else:
            data = rng.choice(GENERATORS)(rng)
        tried += 1
        try:
            if try_input(data, channel, must_fail_authentication):
                accepted += 1
            else:
                rejected += 1
        except Exception:
            print(f"unexpected outcome on input {data[:80]!r}")
            traceback.print_exc()
            return 1
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, cwd=HERE).stdout.strip()
    result = {"commit": commit, "seed": args.seed, "seconds": args.seconds, "inputs": tried,
              "sealed_inputs": sealed, "rejected": rejected, "accepted": accepted,
              "unexpected": 0}
    print(json.dumps(result))
    out = HERE / "results" / "fuzz.jsonl"
    out.parent.mkdir(exist_ok=True)
    with out.open("a") as file:
        file.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
