"""The wire format: length-prefixed msgpack frames and their validation.

A frame is a 4-byte big-endian body length followed by a msgpack map. Every
map carries the protocol version `v` and a message type `t`. Decoding caps
the frame size and msgpack container sizes, then checks each field before
anything reaches the state.
"""

from __future__ import annotations

import asyncio
import enum
import struct
from dataclasses import dataclass, field
from typing import Any

import msgpack

from ants.comm.crypto import HEADER_BYTES, SEALED_MARK, Channel
from ants.comm.membership import Member, member_from_wire
from ants.errors import FrameTooLarge, JobError, PayloadError, ProtocolError
from ants.node.job import JobRecord, Message, message_from_wire, record_from_wire

PROTOCOL_VERSION = 1

MAX_FRAME_BYTES = 16 * 1024 * 1024
"""Largest frame body accepted, in bytes."""
MAX_RECORDS_PER_FRAME = 2000
"""Most job records plus messages one frame may carry."""
MAX_MEMBERS_PER_FRAME = 10_000
MAX_CONTAINER_LENGTH = 100_000
"""Largest msgpack array or map inside a frame."""
MAX_STRING_BYTES = 4 * 1024 * 1024
"""Largest msgpack string or binary value inside a frame."""
HEADER = struct.Struct(">I")


class MessageType(enum.IntEnum):
    """Frame types. Values travel on the wire: only append."""

    EXCHANGE = 1
    """Start or continue a push-pull exchange: the sender's delta and what it has."""
    REPLY = 2
    """Answer to EXCHANGE: the receiver's delta and what it has."""
    LEAVE = 3
    """The sender is shutting down; its member entry says left."""


@dataclass(slots=True)
class Frame:
    """A decoded, validated gossip frame."""

    type: MessageType
    node_id: str
    address: str
    incarnation: int
    members: list[Member] = field(default_factory=list)
    have: tuple[int, int] | None = None
    """(incarnation, seq): how far the sender has merged the receiver's changes."""
    reach: int = 0
    """Sequence number of the sender's state that `jobs` and `messages` bring the receiver to."""
    more: bool = False
    jobs: list[JobRecord] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)

    @property
    def record_count(self) -> int:
        return len(self.jobs) + len(self.messages)


def encode_frame(frame: Frame, channel: Channel | None = None) -> bytes:
    """Encode a frame with its length prefix, sealed when a channel is given."""
    body = {
        "v": PROTOCOL_VERSION,
        "t": int(frame.type),
        "id": frame.node_id,
        "addr": frame.address,
        "inc": frame.incarnation,
        "members": [m.to_wire() for m in frame.members],
        "have": list(frame.have) if frame.have is not None else None,
        "reach": frame.reach,
        "more": frame.more,
        "jobs": [record.to_wire() for record in frame.jobs],
        "msgs": [message.to_wire() for message in frame.messages],
    }
    data = msgpack.packb(body, use_bin_type=True)
    if channel is not None:
        data = channel.seal(int(frame.type), PROTOCOL_VERSION, data)
    if len(data) > MAX_FRAME_BYTES:
        raise FrameTooLarge(f"frame is {len(data)} bytes, limit is {MAX_FRAME_BYTES}")
    return HEADER.pack(len(data)) + data


def decode_body(data: bytes, peer: str = "?", channel: Channel | None = None) -> Frame:
    """Decode and validate a frame body; raise ProtocolError naming the peer.

    With a channel the body must be sealed, and the sealed header's version
    and type must match the ones inside.
    """
    if len(data) > MAX_FRAME_BYTES:
        raise FrameTooLarge(f"frame from {peer} is {len(data)} bytes, limit is {MAX_FRAME_BYTES}")
    sealed_as = None
    if channel is not None:
        version, message_type, data = channel.open(data, peer)
        sealed_as = (version, message_type)
    elif data[:1] == SEALED_MARK and len(data) > HEADER_BYTES:
        raise ProtocolError(
            f"frame from {peer} is sealed, but this node has no cluster key; "
            "start it with --secret-file or ANTS_SECRET"
        )
    unpacker = msgpack.Unpacker(
        raw=False,
        strict_map_key=True,
        max_buffer_size=MAX_FRAME_BYTES,
        max_array_len=MAX_CONTAINER_LENGTH,
        max_map_len=MAX_CONTAINER_LENGTH,
        max_str_len=MAX_STRING_BYTES,
        max_bin_len=MAX_STRING_BYTES,
        max_ext_len=0,
    )
    try:
        unpacker.feed(data)
        body = unpacker.unpack()
        if unpacker.tell() != len(data):
            raise ValueError(f"{len(data) - unpacker.tell()} bytes after the msgpack value")
    except Exception as exc:
        raise ProtocolError(f"frame from {peer} is not valid msgpack: {exc}") from exc
    if not isinstance(body, dict):
        raise ProtocolError(f"frame from {peer} is a {type(body).__name__}, expected a map")
    version = body.get("v")
    if type(version) is not int or version != PROTOCOL_VERSION:
        raise ProtocolError(
            f"frame from {peer} has protocol version {version!r:.20}, "
            f"this node speaks {PROTOCOL_VERSION}"
        )
    if sealed_as is not None and sealed_as != (version, body.get("t")):
        raise ProtocolError(f"frame from {peer} has a sealed header that does not match its body")
    try:
        return _frame_from_body(body, peer)
    except (JobError, PayloadError) as exc:
        raise ProtocolError(f"frame from {peer} has an invalid record: {exc}") from exc


def _field(body: dict, name: str, types: type | tuple, peer: str, optional: bool = False) -> Any:
    value = body.get(name)
    if value is None and optional:
        return None
    if isinstance(value, bool) and types is int:
        raise ProtocolError(f"frame from {peer}: field {name!r} must be int, got bool")
    if not isinstance(value, types):
        raise ProtocolError(
            f"frame from {peer}: field {name!r} must be {types}, got {type(value).__name__}"
        )
    return value


def _frame_from_body(body: dict, peer: str) -> Frame:
    raw_type = body.get("t")
    if type(raw_type) is not int:
        raise ProtocolError(
            f"frame from {peer} has unknown message type {raw_type!r:.20}, which is not an int"
        )
    try:
        message_type = MessageType(raw_type)
    except ValueError:
        raise ProtocolError(
            f"frame from {peer} has unknown message type {body.get('t')!r:.20}"
        ) from None
    node_id = _field(body, "id", str, peer)
    if not 1 <= len(node_id) <= 64:
        raise ProtocolError(f"frame from {peer}: node id length {len(node_id)} is outside 1..64")
    address = _field(body, "addr", str, peer)
    incarnation = _field(body, "inc", int, peer)
    members_raw = _field(body, "members", list, peer)
    if len(members_raw) > MAX_MEMBERS_PER_FRAME:
        raise ProtocolError(
            f"frame from {peer} lists {len(members_raw)} members, "
            f"limit is {MAX_MEMBERS_PER_FRAME}"
        )
    have_raw = _field(body, "have", list, peer, optional=True)
    have = None
    if have_raw is not None:
        if len(have_raw) != 2 or not all(
            isinstance(x, int) and not isinstance(x, bool) and x >= 0 for x in have_raw
        ):
            raise ProtocolError(f"frame from {peer}: field 'have' must be two non-negative ints")
        have = (have_raw[0], have_raw[1])
    reach = _field(body, "reach", int, peer)
    more = _field(body, "more", bool, peer)
    jobs_raw = _field(body, "jobs", list, peer)
    messages_raw = _field(body, "msgs", list, peer)
    if len(jobs_raw) + len(messages_raw) > MAX_RECORDS_PER_FRAME:
        raise ProtocolError(
            f"frame from {peer} carries {len(jobs_raw) + len(messages_raw)} records, "
            f"limit is {MAX_RECORDS_PER_FRAME}"
        )
    return Frame(
        type=message_type,
        node_id=node_id,
        address=address,
        incarnation=incarnation,
        members=[member_from_wire(entry) for entry in members_raw],
        have=have,
        reach=reach,
        more=more,
        jobs=[record_from_wire(entry) for entry in jobs_raw],
        messages=[message_from_wire(entry) for entry in messages_raw],
    )


async def read_frame(reader: asyncio.StreamReader, peer: str) -> bytes | None:
    """Read one frame body; return None on a clean end of stream before a header."""
    try:
        header = await reader.readexactly(HEADER.size)
    except asyncio.IncompleteReadError as exc:
        if not exc.partial:
            return None
        raise ProtocolError(f"connection from {peer} closed inside a frame header") from exc
    (length,) = HEADER.unpack(header)
    if length > MAX_FRAME_BYTES:
        raise FrameTooLarge(f"frame from {peer} is {length} bytes, limit is {MAX_FRAME_BYTES}")
    try:
        return await reader.readexactly(length)
    except asyncio.IncompleteReadError as exc:
        raise ProtocolError(
            f"connection from {peer} closed after {len(exc.partial)} of {length} frame bytes"
        ) from exc
