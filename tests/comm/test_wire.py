"""The wire codec: frame round trips and rejection of every malformed frame."""

from __future__ import annotations

import asyncio
import math
import random
import struct

import msgpack
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from ants.comm.crypto import AuthenticationFailed, Channel, Keyring, make_challenge
from ants.comm.membership import Member
from ants.comm.wire import (
    MAX_CONTAINER_LENGTH,
    MAX_FRAME_BYTES,
    MAX_MEMBERS_PER_FRAME,
    MAX_NESTING_DEPTH,
    MAX_RECORDS_PER_FRAME,
    MAX_STRING_BYTES,
    PROTOCOL_VERSION,
    Frame,
    MessageType,
    decode_body,
    encode_frame,
    read_frame,
)
from ants.errors import FrameTooLarge, ProtocolError
from ants.node.job import JobRecord, JobStatus, Message, make_job_id
from ants.node.plain import MAX_DEPTH

PEER = "127.0.0.1:9001"


def sample_frame(**changes) -> Frame:
    record = JobRecord(
        id=make_job_id("resize", {"w": 10}),
        name="resize",
        payload={"w": 10, "data": b"\x00\xff", "tags": ["a", None, 1.5]},
        status=JobStatus.DONE,
        attempt=1,
        owner="00000000000000aa",
        result={"ok": True},
        error="ValueError: earlier attempt",
        max_attempts=3,
        timeout=30.0,
        creator="00000000000000bb",
        created=1700000000.0,
        finished=1700000001.5,
    )
    pending = JobRecord(
        id=make_job_id("idle", None), name="idle", payload=None, max_attempts=1
    )
    message = Message(
        sender="00000000000000aa", body={"hello": [1, 2]}, created=1.0, expires=2.0
    )
    fields = {
        "type": MessageType.EXCHANGE,
        "node_id": "00000000000000aa",
        "address": "127.0.0.1:9000",
        "incarnation": 1700000000000,
        "members": [
            Member("00000000000000aa", "127.0.0.1:9000", 1700000000000, 12),
            Member("00000000000000bb", "127.0.0.1:9002", 5, 7, left=True),
        ],
        "digest": {"00000000000000aa/1a2b3c4d": 40, "00000000000000bb/5e6f7a8b": 3},
        "reach": {"00000000000000aa/1a2b3c4d": 17},
        "more": True,
        "jobs": [record, pending],
        "messages": [message],
    }
    fields.update(changes)
    origin = "00000000000000aa/1a2b3c4d"
    stamps = {job.id: (origin, 10 + index) for index, job in enumerate(fields["jobs"])}
    stamps.update({"m:" + m.id: (origin, 5) for m in fields["messages"]})
    fields.setdefault("stamps", stamps)
    return Frame(**fields)


def stamped(fields: list) -> list:
    return ["00000000000000aa/1a2b3c4d", 1, fields]


def valid_body(**changes) -> dict:
    body = {
        "v": PROTOCOL_VERSION,
        "t": int(MessageType.EXCHANGE),
        "id": "00000000000000aa",
        "addr": "127.0.0.1:9000",
        "inc": 1,
        "members": [],
        "dig": {},
        "reach": {},
        "more": False,
        "jobs": [],
        "msgs": [],
    }
    body.update(changes)
    return body


def pack(value) -> bytes:
    return msgpack.packb(value, use_bin_type=True)


def body_of(frame: Frame) -> bytes:
    return encode_frame(frame)[4:]


# Round trips


def test_frame_round_trip():
    frame = sample_frame()
    assert decode_body(body_of(frame), PEER) == frame


@pytest.mark.parametrize("message_type", list(MessageType))
def test_frame_round_trip_each_type(message_type):
    frame = sample_frame(type=message_type, digest={}, jobs=[], messages=[], more=False)
    assert decode_body(body_of(frame), PEER) == frame


def test_incoming_round_trips_and_is_optional():
    frame = Frame(MessageType.EXCHANGE, "00000000000000aa", "127.0.0.1:9000", 1,
                  incoming={"00000000000000bb/1": 40})
    assert decode_body(body_of(frame)).incoming == {"00000000000000bb/1": 40}
    assert decode_body(pack(valid_body())).incoming == {}
    with pytest.raises(ProtocolError, match="field 'incoming' has version"):
        decode_body(pack(valid_body(incoming={"00000000000000bb/1": -1})))


def test_frame_length_prefix_is_big_endian():
    data = encode_frame(sample_frame())
    (length,) = struct.unpack(">I", data[:4])
    assert length == len(data) - 4


def test_message_type_values_are_fixed():
    assert int(MessageType.EXCHANGE) == 1
    assert int(MessageType.REPLY) == 2
    assert int(MessageType.LEAVE) == 3


def test_read_frame_returns_body():
    data = encode_frame(sample_frame())
    body = asyncio.run(read_stream(data))
    assert body == data[4:]


def test_read_frame_clean_end_returns_none():
    assert asyncio.run(read_stream(b"")) is None


def test_encode_frame_too_large_raises():
    big = JobRecord(
        id=make_job_id("big", 1), name="big", payload=b"x" * (4 * 1024 * 1024)
    )
    frame = sample_frame(
        jobs=[big] * 5, messages=[], stamps={big.id: ("00000000000000aa/1a2b3c4d", 1)}
    )
    with pytest.raises(FrameTooLarge):
        encode_frame(frame)


job_records = st.builds(
    JobRecord,
    id=st.sampled_from([make_job_id("j", n) for n in range(4)]),
    name=st.text(min_size=1, max_size=20),
    payload=st.recursive(
        st.none()
        | st.booleans()
        | st.integers(-(2**63), 2**64 - 1)
        | st.floats(allow_nan=False)
        | st.text(max_size=8)
        | st.binary(max_size=8),
        lambda children: (
            st.lists(children, max_size=3)
            | st.dictionaries(st.text(max_size=4), children, max_size=3)
        ),
        max_leaves=10,
    ),
    status=st.just(JobStatus.PENDING),
    attempt=st.integers(0, 10),
    max_attempts=st.integers(1, 10),
    created=st.floats(0, 2e9, allow_nan=False),
).map(lambda record: record.with_changes(attempt=min(record.attempt, record.max_attempts - 1)))


@given(st.lists(job_records, max_size=5, unique_by=lambda r: r.id),
       st.integers(0, 2**40), st.booleans())
def test_frame_round_trip_random_records(jobs, reach, more):
    frame = sample_frame(jobs=jobs, reach={"00000000000000aa/1a2b3c4d": reach}, more=more)
    assert decode_body(body_of(frame), PEER) == frame


# Malformed frames

BAD_BODIES = [
    pytest.param(b"\xc1", "is not valid msgpack", id="never-used-byte"),
    pytest.param(b"", "is not valid msgpack", id="empty"),
    pytest.param(pack(valid_body())[:-3], "is not valid msgpack", id="truncated-body"),
    pytest.param(
        pack(valid_body()) + b"\x00", "is not valid msgpack", id="trailing-bytes"
    ),
    pytest.param(pack([1, 2, 3]), "is a list, expected a map", id="array-body"),
    pytest.param(pack(7), "expected a map", id="int-body"),
    pytest.param(pack({1: 2}), "is not valid msgpack", id="int-map-key"),
    pytest.param(
        pack(valid_body(v=99)),
        f"has protocol version 99, this node speaks {PROTOCOL_VERSION}",
        id="version-99",
    ),
    pytest.param(
        pack({k: v for k, v in valid_body().items() if k != "v"}),
        "has protocol version None",
        id="version-missing",
    ),
    pytest.param(pack(valid_body(t=99)), "has unknown message type 99", id="type-99"),
    pytest.param(
        pack(valid_body(t="exchange")), "has unknown message type", id="type-str"
    ),
    pytest.param(pack(valid_body(id=5)), "field 'id' must be", id="id-int"),
    pytest.param(
        pack(valid_body(id="")), "node id '' is not 16 lowercase hex characters", id="id-empty"
    ),
    pytest.param(
        pack(valid_body(id="0" * 65)), "(65 characters) is not 16 lowercase hex", id="id-long"
    ),
    pytest.param(
        pack(valid_body(id="!!! not hex !!!")),
        "node id '!!! not hex !!!' is not 16 lowercase hex characters",
        id="id-not-hex",
    ),
    pytest.param(
        pack(valid_body(addr="x" * 3_000_000)),
        "address 'xxxxxxxx",
        id="addr-3-million-chars",
    ),
    pytest.param(
        pack(valid_body(addr="x" * 301)),
        "(301 characters) is longer than 300 characters",
        id="addr-301-chars",
    ),
    pytest.param(
        pack(valid_body(inc=-1)), "incarnation -1 is outside 0..2**63-1", id="inc-negative"
    ),
    pytest.param(pack(valid_body(addr=None)), "field 'addr' must be", id="addr-none"),
    pytest.param(pack(valid_body(inc="1")), "field 'inc' must be", id="inc-str"),
    pytest.param(
        pack(valid_body(inc=True)), "field 'inc' must be int, got bool", id="inc-bool"
    ),
    pytest.param(
        pack(valid_body(members={})), "field 'members' must be", id="members-map"
    ),
    pytest.param(pack(valid_body(dig=[1])), "field 'dig' must be", id="digest-list"),
    pytest.param(
        pack(valid_body(dig={"a": -1})), "field 'dig' has version -1", id="digest-negative"
    ),
    pytest.param(
        pack(valid_body(dig={"a": True})), "field 'dig' has version True", id="digest-bool"
    ),
    pytest.param(
        pack(valid_body(dig={"": 1})), "origin '' is not a string", id="digest-empty-origin"
    ),
    pytest.param(
        pack(valid_body(reach=1.5)), "field 'reach' must be", id="reach-float"
    ),
    pytest.param(
        pack(valid_body(jobs=[[1, 2]])), "a record entry must be", id="entry-short"
    ),
    pytest.param(
        pack(valid_body(jobs=[["o", -1, []]])), "record version -1", id="entry-version"
    ),
    pytest.param(pack(valid_body(more=1)), "field 'more' must be", id="more-int"),
    pytest.param(pack(valid_body(jobs={})), "field 'jobs' must be", id="jobs-map"),
    pytest.param(pack(valid_body(msgs="x")), "field 'msgs' must be", id="msgs-str"),
    pytest.param(
        pack(valid_body(jobs=[stamped([1, 2, 3])])),
        "has an invalid record: job record must be a list of 13 fields",
        id="record-short",
    ),
    pytest.param(
        pack(
            valid_body(
                jobs=[stamped(sample_frame().jobs[0].with_changes(attempt=-1).to_wire())]
            )
        ),
        ": attempt -1 is negative",
        id="record-attempt",
    ),
    pytest.param(
        pack(valid_body(msgs=[stamped(["0" * 32, "00000000000000aa", None, 1.0, 2.0])])),
        "has an invalid record: message id",
        id="message-id-mismatch",
    ),
    pytest.param(
        pack(valid_body(members=[["a", "127.0.0.1:1", 1, 1]])),
        "member entry must be a list of 5 fields",
        id="member-short",
    ),
    pytest.param(
        pack(valid_body(members=[["00000000000000aa", "127.0.0.1:1", -1, 1, False]])),
        "member 00000000000000aa incarnation -1 is not a non-negative integer",
        id="member-negative",
    ),
    pytest.param(
        pack(valid_body(members=[["00000000000000aa", "127.0.0.1:1", 1, 1, 0]])),
        "member 00000000000000aa left flag 0 is not a bool",
        id="member-left-int",
    ),
    pytest.param(
        pack(valid_body(members=[["a", "127.0.0.1:1", 1, 1, False]])),
        "has an invalid member: member node id 'a' is not 16 lowercase hex characters",
        id="member-id-not-hex",
    ),
    pytest.param(
        pack(valid_body(members=[["00000000000000aa", "h" * 301, 1, 1, False]])),
        "member 00000000000000aa address 'hhhh",
        id="member-address-301-chars",
    ),
    *[
        pytest.param(
            pack(valid_body(members=[["00000000000000aa", address, 1, 1, False]])),
            f"has an invalid member: invalid member 00000000000000aa address {address!r}",
            id=f"member-address-{case}",
        )
        for case, address in [
            ("no-port", "nohost"),
            ("empty", ""),
            ("unclosed-bracket", "[::1"),
            ("port-out-of-range", "a:b:c:99999"),
            ("port-not-number", "host:http"),
        ]
    ],
    pytest.param(
        pack(valid_body(jobs=[None] * (MAX_RECORDS_PER_FRAME + 1))),
        f"carries {MAX_RECORDS_PER_FRAME + 1} records, "
        f"limit is {MAX_RECORDS_PER_FRAME} (MAX_RECORDS_PER_FRAME)",
        id="too-many-records",
    ),
    pytest.param(
        pack(valid_body(jobs=[None] * 1500, msgs=[None] * 501)),
        f"carries 2001 records, limit is {MAX_RECORDS_PER_FRAME} (MAX_RECORDS_PER_FRAME)",
        id="too-many-records-and-messages",
    ),
    pytest.param(
        pack(valid_body(members=[None] * (MAX_MEMBERS_PER_FRAME + 1))),
        f"lists {MAX_MEMBERS_PER_FRAME + 1} members, limit is {MAX_MEMBERS_PER_FRAME} "
        "(MAX_MEMBERS_PER_FRAME)",
        id="too-many-members",
    ),
    pytest.param(
        pack(valid_body(jobs=[0] * (MAX_CONTAINER_LENGTH + 1))),
        f"contains an array of {MAX_CONTAINER_LENGTH + 1} items, "
        f"limit is {MAX_CONTAINER_LENGTH} (MAX_CONTAINER_LENGTH)",
        id="container-too-long",
    ),
    pytest.param(
        pack(valid_body(addr=msgpack.ExtType(5, b"abcd"))),
        "contains a msgpack extension type",
        id="ext-type",
    ),
]


def test_decode_without_tcp_addresses_accepts_name():
    body = pack(valid_body(members=[["00000000000000aa", "b", 1, 1, False]]))

    frame = decode_body(body, PEER, tcp_addresses=False)

    assert frame.members[0].address == "b"


@pytest.mark.parametrize(("body", "text"), BAD_BODIES)
def test_decode_rejects_bad_body(body, text):
    with pytest.raises(ProtocolError) as caught:
        decode_body(body, PEER)
    assert text in str(caught.value)


def record_fields(**changes) -> list:
    record = sample_frame().jobs[0].with_changes(**changes)
    return record.to_wire()


def message_fields(**changes) -> list:
    fields = {"sender": "00000000000000aa", "body": None, "created": 1.0, "expires": 2.0}
    fields.update(changes)
    return Message(**fields).to_wire()


THREE_MIB = "x" * (3 * 1024 * 1024)

OUT_OF_RANGE = [
    pytest.param(record_fields(created=math.nan), "created nan is not a time", id="created-nan"),
    pytest.param(record_fields(created=math.inf), "created inf is not a time", id="created-inf"),
    pytest.param(
        record_fields(created=-1e300), "created -1e+300 is not a time", id="created-negative"
    ),
    pytest.param(
        record_fields(finished=math.nan), "finished nan is not a time", id="finished-nan"
    ),
    pytest.param(
        record_fields(attempt=50, max_attempts=3),
        "attempt 50 is not below max_attempts 3 (status DONE)",
        id="attempt-over-max",
    ),
    pytest.param(
        record_fields(timeout=math.inf),
        "timeout inf is not a positive finite number of seconds",
        id="timeout-inf",
    ),
    pytest.param(
        record_fields(owner="NOT A NODE ID!!"),
        "owner 'NOT A NODE ID!!' is not a node id",
        id="owner-not-hex",
    ),
    pytest.param(
        record_fields(payload={"s": THREE_MIB}),
        "payload encodes to 3,145,736 bytes, limit is 1,048,576 (MAX_PAYLOAD_BYTES)",
        id="payload-3-mib",
    ),
    pytest.param(
        record_fields(result={"s": THREE_MIB}),
        "result encodes to 3,145,736 bytes, limit is 1,048,576 (MAX_PAYLOAD_BYTES)",
        id="result-3-mib",
    ),
]


@pytest.mark.parametrize(("fields", "text"), OUT_OF_RANGE)
def test_decode_rejects_out_of_range_record(fields, text):
    with pytest.raises(ProtocolError) as caught:
        decode_body(pack(valid_body(jobs=[stamped(fields)])), PEER)
    message = str(caught.value)
    assert message.startswith(f"frame from {PEER} has an invalid record: job {fields[0]}: ")
    assert text in message
    assert len(message) < 300


OUT_OF_RANGE_MESSAGES = [
    pytest.param(
        message_fields(sender="s" * 3_000_000),
        "sender 'ssssssss",
        id="sender-3-million-chars",
    ),
    pytest.param(
        message_fields(expires=math.inf), "expires inf is not a time", id="expires-inf"
    ),
    pytest.param(
        message_fields(created=math.nan, expires=math.nan),
        "created nan is not a time",
        id="times-nan",
    ),
]


@pytest.mark.parametrize(("fields", "text"), OUT_OF_RANGE_MESSAGES)
def test_decode_rejects_out_of_range_message(fields, text):
    with pytest.raises(ProtocolError) as caught:
        decode_body(pack(valid_body(msgs=[stamped(fields)])), PEER)
    message = str(caught.value)
    assert message.startswith(f"frame from {PEER} has an invalid record: message {fields[0]}: ")
    assert text in message
    assert len(message) < 300


@pytest.mark.parametrize(("body", "text"), BAD_BODIES[:8])
def test_decode_error_names_peer(body, text):
    with pytest.raises(ProtocolError) as caught:
        decode_body(body, PEER)
    assert f"frame from {PEER}" in str(caught.value)


def test_decode_oversized_body_message_is_pinned():
    with pytest.raises(FrameTooLarge) as caught:
        decode_body(b"\x00" * (MAX_FRAME_BYTES + 1), PEER)
    assert str(caught.value) == (
        f"frame from {PEER} is {MAX_FRAME_BYTES + 1} bytes, limit is {MAX_FRAME_BYTES} (MAX_FRAME_BYTES)"
    )


def test_decode_version_message_is_pinned():
    with pytest.raises(ProtocolError) as caught:
        decode_body(pack(valid_body(v=99)), PEER)
    assert str(caught.value) == (
        f"frame from {PEER} has protocol version 99, this node speaks {PROTOCOL_VERSION}"
    )


def test_frame_too_large_is_protocol_error():
    assert issubclass(FrameTooLarge, ProtocolError)


@pytest.mark.parametrize(
    ("field", "value", "text"),
    [
        ("v", True, "has protocol version True"),
        ("v", 1.0, "has protocol version 1.0"),
        ("t", True, "has unknown message type True, which is not an int"),
        ("t", 1.0, "has unknown message type 1.0, which is not an int"),
    ],
)
def test_decode_rejects_non_int_version_and_type(field, value, text):
    with pytest.raises(ProtocolError) as caught:
        decode_body(pack(valid_body(**{field: value})), PEER)
    assert text in str(caught.value)


def nested(levels: int, leaf=None):
    """Return `levels` lists nested in one another around `leaf`."""
    value = leaf
    for _ in range(levels):
        value = [value]
    return value


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"\x91" * (MAX_NESTING_DEPTH + 1) + b"\xc0", id="41-levels-bare"),
        pytest.param(b"\x91" * 3000 + b"\xc0", id="3000-levels-bare"),
        pytest.param(pack(valid_body(addr=nested(MAX_NESTING_DEPTH))), id="41-levels-in-field"),
        pytest.param(pack(valid_body(members=[nested(500)])), id="502-levels-in-members"),
    ],
)
def test_decode_rejects_deep_nesting(body):
    with pytest.raises(ProtocolError) as caught:
        decode_body(body, PEER)
    assert str(caught.value) == (
        f"frame from {PEER} is nested deeper than {MAX_NESTING_DEPTH} levels "
        "(MAX_NESTING_DEPTH)"
    )


def test_decode_depth_limit_is_inclusive():
    # The body map and 39 lists make 40 levels: past the depth check, the field check fails.
    with pytest.raises(ProtocolError) as caught:
        decode_body(pack(valid_body(addr=nested(MAX_NESTING_DEPTH - 1))), PEER)
    assert "field 'addr' must be" in str(caught.value)


def test_decode_accepts_deepest_payload():
    # The payload's innermost list is at plain.MAX_DEPTH and has to be empty.
    payload = nested(MAX_DEPTH, leaf=[])
    record = sample_frame().jobs[1].with_changes(payload=payload)
    frame = sample_frame(jobs=[record], messages=[])
    assert decode_body(body_of(frame), PEER).jobs[0].payload == payload


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "the body ends inside a value"),
        (b"\x92\x01", "the body ends inside a value"),
        (b"\xc1", "it contains a byte that starts no msgpack type"),
        (pack(valid_body()) + b"\x00\x00", "the value is followed by 2 more byte(s)"),
        (b"\xa2\xff\xfe", "'utf-8' codec can't decode byte 0xff"),
    ],
)
def test_decode_msgpack_error_names_reason(body, reason):
    with pytest.raises(ProtocolError) as caught:
        decode_body(body, PEER)
    assert str(caught.value).startswith(f"frame from {PEER} is not valid msgpack: {reason}")


@pytest.mark.parametrize(
    ("body", "text"),
    [
        (
            b"\xdd\xff\xff\xff\xff",
            "an array of 4294967295 items, limit is 100000 (MAX_CONTAINER_LENGTH)",
        ),
        (
            b"\xdf\x00\x01\x86\xa1",
            "a map of 100001 entries, limit is 100000 (MAX_CONTAINER_LENGTH)",
        ),
        (
            # msgpack checks a string's length once its bytes have arrived.
            msgpack.packb("s" * (MAX_STRING_BYTES + 1)),
            "a string of 4194305 bytes, limit is 4194304 (MAX_STRING_BYTES)",
        ),
        (
            msgpack.packb(b"b" * (MAX_STRING_BYTES + 1)),
            "a binary value of 4194305 bytes, limit is 4194304 (MAX_STRING_BYTES)",
        ),
        (
            msgpack.packb(msgpack.ExtType(5, b"abcd")),
            "a msgpack extension type, which frames never carry",
        ),
    ],
    ids=["array", "map", "string", "binary", "extension"],
)
def test_decode_msgpack_limit_names_constant(body, text):
    with pytest.raises(ProtocolError) as caught:
        decode_body(body, PEER)
    assert str(caught.value) == f"frame from {PEER} contains {text}"


# Reading frames from a stream


async def read_stream(data: bytes) -> bytes | None:
    reader = asyncio.StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    return await read_frame(reader, PEER)


def test_read_frame_oversized_prefix_rejected():
    header = struct.pack(">I", MAX_FRAME_BYTES + 1)
    with pytest.raises(FrameTooLarge) as caught:
        asyncio.run(read_stream(header))
    assert str(caught.value) == (
        f"frame from {PEER} is {MAX_FRAME_BYTES + 1} bytes, limit is {MAX_FRAME_BYTES} (MAX_FRAME_BYTES)"
    )


def test_read_frame_max_prefix_rejected():
    with pytest.raises(FrameTooLarge):
        asyncio.run(read_stream(b"\xff\xff\xff\xff"))


def test_read_frame_partial_header_rejected():
    with pytest.raises(ProtocolError) as caught:
        asyncio.run(read_stream(b"\x00\x00"))
    assert str(caught.value) == f"connection from {PEER} closed inside a frame header"


def test_read_frame_truncated_body_rejected():
    data = encode_frame(sample_frame())
    with pytest.raises(ProtocolError) as caught:
        asyncio.run(read_stream(data[:-10]))
    length = len(data) - 4
    assert str(caught.value) == (
        f"connection from {PEER} closed after {length - 10} of {length} frame bytes"
    )


# Fuzzing: only ProtocolError may escape the decoder


@given(st.binary(max_size=300))
def test_decode_random_bytes_only_protocol_error(data):
    try:
        decode_body(data, PEER)
    except ProtocolError:
        pass


@given(st.binary(max_size=300))
def test_read_frame_random_bytes_only_protocol_error(data):
    try:
        asyncio.run(read_stream(data))
    except ProtocolError:
        pass


@given(st.randoms(use_true_random=False), st.integers(1, 8))
def test_decode_mutated_frame_only_protocol_error(rng: random.Random, flips):
    data = bytearray(body_of(sample_frame()))
    for _ in range(flips):
        data[rng.randrange(len(data))] = rng.randrange(256)
    try:
        decode_body(bytes(data), PEER)
    except ProtocolError:
        pass


plain_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats()
    | st.text(max_size=6)
    | st.binary(max_size=6),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(max_size=4), children, max_size=4)
    ),
    max_leaves=15,
)


@st.composite
def corrupted_bodies(draw) -> dict:
    """Draw a frame body whose fields are valid, random, or lists of random values."""
    body = valid_body()
    for key in draw(st.lists(st.sampled_from(sorted(body)), max_size=3)):
        body[key] = draw(plain_values)
    if draw(st.booleans()):
        body["jobs"] = [draw(st.lists(plain_values, min_size=13, max_size=13))]
    if draw(st.booleans()):
        body["members"] = [draw(st.lists(plain_values, min_size=5, max_size=5))]
    if draw(st.booleans()):
        body["msgs"] = [draw(st.lists(plain_values, min_size=5, max_size=5))]
    return body


@given(corrupted_bodies())
def test_decode_random_fields_only_protocol_error(body):
    try:
        decode_body(pack(body), PEER)
    except ProtocolError:
        pass


# Fuzzing: deep nesting, huge declared lengths, oversized and sealed frames

LENGTH_MARKERS = {
    b"\xdc": ">H", b"\xdd": ">I",  # array 16, array 32
    b"\xde": ">H", b"\xdf": ">I",  # map 16, map 32
    b"\xd9": ">B", b"\xda": ">H", b"\xdb": ">I",  # str 8, 16, 32
    b"\xc4": ">B", b"\xc5": ">H", b"\xc6": ">I",  # bin 8, 16, 32
    b"\xc7": ">B", b"\xc8": ">H", b"\xc9": ">I",  # ext 8, 16, 32
}


@st.composite
def huge_lengths(draw) -> bytes:
    """Draw a msgpack header declaring up to its format's largest length, with few bytes after.

    The header is the whole body, or replaces the value of one field of a valid body.
    """
    marker = draw(st.sampled_from(sorted(LENGTH_MARKERS)))
    form = LENGTH_MARKERS[marker]
    largest = 2 ** (8 * struct.calcsize(form)) - 1
    declared = draw(st.integers(largest // 2, largest))
    header = marker + struct.pack(form, declared) + draw(st.binary(max_size=16))
    if draw(st.booleans()):
        return header
    return body_with_raw_field(draw(st.sampled_from(sorted(valid_body()))), header)


def body_with_raw_field(key: str, raw: bytes) -> bytes:
    """Return a valid body whose field `key` is replaced by the msgpack bytes `raw`."""
    fields = {k: v for k, v in valid_body().items() if k != key}
    # A fixmap header counting one more entry than packed, then the key and `raw`.
    return bytes([0x80 | (len(fields) + 1)]) + pack(fields)[1:] + pack(key) + raw


@given(huge_lengths())
def test_decode_huge_declared_length_only_protocol_error(data):
    with pytest.raises(ProtocolError):
        decode_body(data, PEER)


@st.composite
def deep_bodies(draw) -> bytes:
    """Draw nesting from 1 to 3,000 levels, bare or in a field, list or map, with any leaf."""
    levels = draw(st.integers(1, 3000))
    leaf = pack(draw(st.sampled_from([None, 1, "x", b"\x00", [], {}])))
    # Built as bytes, because msgpack 1.0's packer stops near 1,000 levels.
    level = b"\x81\xa1k" if draw(st.booleans()) else b"\x91"
    raw = level * levels + leaf
    if draw(st.booleans()):
        return raw
    key = draw(st.sampled_from(["addr", "members", "jobs", "msgs", "dig", "id", "extra"]))
    return body_with_raw_field(key, raw)


@given(deep_bodies())
def test_decode_deep_nesting_only_protocol_error(data):
    try:
        decode_body(data, PEER)
    except ProtocolError:
        pass


@given(st.integers(MAX_FRAME_BYTES + 1, MAX_FRAME_BYTES + 4096), st.binary(max_size=8))
@settings(max_examples=10)
def test_decode_oversized_frame_raises_frame_too_large(size, start):
    data = (start + bytes(size))[:size]
    with pytest.raises(FrameTooLarge):
        decode_body(data, PEER)


@given(st.integers(MAX_FRAME_BYTES + 1, 2**32 - 1), st.binary(max_size=64))
def test_read_frame_oversized_prefix_raises_frame_too_large(length, rest):
    with pytest.raises(FrameTooLarge):
        asyncio.run(read_stream(struct.pack(">I", length) + rest))


KEYRING = Keyring.from_env("AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=")


def channel_pair() -> tuple[Channel, Channel]:
    """Return the client's and the server's channel of one connection."""
    server_challenge, client_challenge = make_challenge(), make_challenge()
    client = Channel(KEYRING, server_challenge, client_challenge, is_server=False)
    server = Channel(KEYRING, server_challenge, client_challenge, is_server=True)
    return client, server


@given(st.binary(max_size=400))
def test_decode_random_bytes_under_key_fails_authentication(data):
    _, server = channel_pair()
    with pytest.raises(AuthenticationFailed):
        decode_body(data, PEER, server)


@given(st.binary(min_size=16, max_size=200))
def test_decode_forged_sealed_header_fails_authentication(tail):
    # Mark, version, type and the real key id, with a random nonce and ciphertext.
    _, server = channel_pair()
    forged = b"S" + bytes((PROTOCOL_VERSION, 1)) + KEYRING.primary_id + tail
    with pytest.raises(AuthenticationFailed):
        decode_body(forged, PEER, server)


@given(st.randoms(use_true_random=False), st.integers(1, 8), st.booleans())
def test_decode_flipped_sealed_frame_fails_authentication(rng: random.Random, flips, cut):
    client, server = channel_pair()
    sealed = encode_frame(sample_frame(), client)[4:]
    data = bytearray(sealed)
    for _ in range(flips):
        data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    if cut:
        data = data[: rng.randrange(len(data))]
    # Two flips of one bit cancel out.
    assume(data != sealed)
    with pytest.raises(AuthenticationFailed):
        decode_body(bytes(data), PEER, server)


@given(st.binary(max_size=300), st.sampled_from(list(MessageType)))
def test_decode_sealed_garbage_only_protocol_error(plaintext, message_type):
    # Garbage sealed by a key holder passes authentication and reaches the decoder.
    client, server = channel_pair()
    sealed = client.seal(int(message_type), PROTOCOL_VERSION, plaintext)
    try:
        decode_body(sealed, PEER, server)
    except ProtocolError:
        pass


@given(corrupted_bodies())
def test_decode_sealed_random_fields_only_protocol_error(body):
    client, server = channel_pair()
    sealed = client.seal(int(MessageType.EXCHANGE), PROTOCOL_VERSION, pack(body))
    try:
        decode_body(sealed, PEER, server)
    except ProtocolError:
        pass
