"""The wire format: length-prefixed msgpack frames and their validation.

A frame is a 4-byte big-endian body length followed by a msgpack map. Every
map carries the protocol version `v` and a message type `t`. Decoding caps
the frame size and msgpack container sizes, then checks each field before
anything reaches the state.
"""

from __future__ import annotations

import asyncio
import enum
import re
import struct
from dataclasses import dataclass, field
from typing import Any

import msgpack

from ants.comm.addresses import parse_address
from ants.comm.crypto import (
    CHALLENGE_FRAME_BYTES,
    CHALLENGE_MARK,
    HEADER_BYTES,
    SEALED_MARK,
    AuthenticationFailed,
    Channel,
)
from ants.comm.membership import MAX_ADDRESS_LENGTH, Member, member_from_wire
from ants.errors import (
    ConfigError,
    FrameTooLarge,
    IncompleteFrame,
    JobError,
    PayloadError,
    ProtocolError,
)
from ants.node.identity import is_node_id
from ants.node.job import JobRecord, Message, message_from_wire, record_from_wire
from ants.node.plain import short_repr

PROTOCOL_VERSION = 2

MAX_FRAME_BYTES = 16 * 1024 * 1024
"""Largest frame body accepted, in bytes."""
MAX_RECORDS_PER_FRAME = 2000
"""Most job records plus messages one frame may carry."""
MAX_MEMBERS_PER_FRAME = 10_000
"""Maximum member entries one frame may list."""
MAX_DIGEST_ENTRIES = 100_000
"""Most origins one digest or reach map may list."""
MAX_ORIGIN_LENGTH = 80
"""Maximum length of an origin name in characters: a node id, "/" and a process tag."""
MAX_CONTAINER_LENGTH = 100_000
"""Largest msgpack array or map inside a frame."""
MAX_STRING_BYTES = 4 * 1024 * 1024
"""Largest msgpack string or binary value inside a frame."""
MAX_NESTING_DEPTH = 40
"""Maximum nesting of msgpack arrays and maps in a frame, in levels, the body map being
level 1. A frame's own structure takes 4 levels and a payload at most 33 (itself and
`plain.MAX_DEPTH` more), so every valid frame fits."""
HEADER = struct.Struct(">I")


class MessageType(enum.IntEnum):
    """Frame types. Values travel on the wire: only append."""

    EXCHANGE = 1
    """Start or continue a push-pull exchange: the sender's digest and records."""
    REPLY = 2
    """Reply to EXCHANGE: the receiver's digest and the records the sender lacks."""
    LEAVE = 3
    """The sender is shutting down, and its member entry is marked left."""


@dataclass(slots=True)
class Frame:
    """A decoded, validated gossip frame."""

    type: MessageType
    node_id: str
    address: str
    incarnation: int
    members: list[Member] = field(default_factory=list)
    digest: dict[str, int] = field(default_factory=dict)
    """Origin -> highest version the sender has taken in."""
    reach: dict[str, int] = field(default_factory=dict)
    """Origin -> version up to which the records of this frame bring the receiver."""
    more: bool = False
    incoming: dict[str, int] = field(default_factory=dict)
    """Origin -> version up to which another exchange is streaming records of that
    origin to the sender. A receiver sends nothing of these origins in reply."""
    jobs: list[JobRecord] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)
    stamps: dict[str, tuple[str, int]] = field(default_factory=dict)
    """Key (job id, or "m:" and message id) -> (origin, version) of each record."""

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
        "dig": frame.digest,
        "reach": frame.reach,
        "more": frame.more,
        "jobs": [[*frame.stamps[r.id], r.to_wire()] for r in frame.jobs],
        "msgs": [[*frame.stamps["m:" + m.id], m.to_wire()] for m in frame.messages],
    }
    if frame.incoming:
        body["incoming"] = frame.incoming
    data = msgpack.packb(body, use_bin_type=True)
    if channel is not None:
        data = channel.seal(int(frame.type), PROTOCOL_VERSION, data)
    if len(data) > MAX_FRAME_BYTES:
        raise FrameTooLarge(
            f"frame is {len(data)} bytes, limit is {MAX_FRAME_BYTES} (MAX_FRAME_BYTES)"
        )
    return HEADER.pack(len(data)) + data


def decode_body(
    data: bytes,
    peer: str = "?",
    channel: Channel | None = None,
    *,
    tcp_addresses: bool = True,
) -> Frame:
    """Decode and validate a frame body; raise ProtocolError naming the peer.

    With a channel the body must be sealed, and the sealed header's version
    and type must match the ones inside. With `tcp_addresses` every member's
    address must parse as a --bootstrap address does. The in-memory
    transport turns it off, because it names its nodes without a port.
    """
    if len(data) > MAX_FRAME_BYTES:
        raise FrameTooLarge(
            f"frame from {peer} is {len(data)} bytes, limit is {MAX_FRAME_BYTES} "
            "(MAX_FRAME_BYTES)"
        )
    sealed_as = None
    if channel is not None:
        version, message_type, data = channel.open(data, peer)
        sealed_as = (version, message_type)
    elif data[:1] == SEALED_MARK and len(data) > HEADER_BYTES:
        raise ProtocolError(
            f"frame from {peer} is sealed, but this node has no cluster key; "
            "start it with --secret-file or ANTS_SECRET"
        )
    elif data[:1] == CHALLENGE_MARK and len(data) == CHALLENGE_FRAME_BYTES:
        raise ProtocolError(
            f"{peer} requires a cluster key, and this node has none; "
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
    except msgpack.StackError:
        # msgpack 1.0 raises StackError past its own limit of 1,024 levels.
        raise ProtocolError(
            f"frame from {peer} is nested deeper than {MAX_NESTING_DEPTH} levels "
            "(MAX_NESTING_DEPTH)"
        ) from None
    except ValueError as exc:
        over_limit = _msgpack_limit(exc)
        if over_limit is None:
            raise ProtocolError(
                f"frame from {peer} is not valid msgpack: {_msgpack_reason(exc)}"
            ) from None
        raise ProtocolError(f"frame from {peer} contains {over_limit}") from None
    except Exception as exc:
        raise ProtocolError(
            f"frame from {peer} is not valid msgpack: {_msgpack_reason(exc)}"
        ) from None
    if unpacker.tell() != len(data):
        raise ProtocolError(
            f"frame from {peer} is not valid msgpack: the value is followed by "
            f"{len(data) - unpacker.tell()} more byte(s)"
        )
    if not _within_depth(body, MAX_NESTING_DEPTH):
        raise ProtocolError(
            f"frame from {peer} is nested deeper than {MAX_NESTING_DEPTH} levels "
            "(MAX_NESTING_DEPTH)"
        )
    if not isinstance(body, dict):
        raise ProtocolError(f"frame from {peer} is a {type(body).__name__}, expected a map")
    version = body.get("v")
    if type(version) is not int or version != PROTOCOL_VERSION:
        raise ProtocolError(
            f"frame from {peer} has protocol version {short_repr(version)}, "
            f"this node speaks {PROTOCOL_VERSION}"
        )
    if sealed_as is not None and sealed_as != (version, body.get("t")):
        raise ProtocolError(f"frame from {peer} has a sealed header that does not match its body")
    try:
        return _frame_from_body(body, peer, tcp_addresses)
    except (JobError, PayloadError) as exc:
        raise ProtocolError(f"frame from {peer} has an invalid record: {exc}") from exc


_MSGPACK_LIMIT_ERROR = re.compile(r"(\d+) exceeds (max_\w+_len)\(\d+\)")
"""The text of the ValueError msgpack raises for a value over one of its limits (checked
with msgpack 1.2.4). Other texts fall back to `_msgpack_reason`."""

_MSGPACK_LIMITS = {
    "max_array_len": ("an array of {} items", MAX_CONTAINER_LENGTH, "MAX_CONTAINER_LENGTH"),
    "max_map_len": ("a map of {} entries", MAX_CONTAINER_LENGTH, "MAX_CONTAINER_LENGTH"),
    "max_str_len": ("a string of {} bytes", MAX_STRING_BYTES, "MAX_STRING_BYTES"),
    "max_bin_len": ("a binary value of {} bytes", MAX_STRING_BYTES, "MAX_STRING_BYTES"),
}
"""msgpack's parameter -> (what is over it, this module's limit and the limit's name)."""


def _msgpack_limit(exc: ValueError) -> str | None:
    """Return what a msgpack limit error rejected, naming this module's limit, or None."""
    match = _MSGPACK_LIMIT_ERROR.fullmatch(str(exc))
    if match is None:
        return None
    size, parameter = match.groups()
    if parameter == "max_ext_len":
        return "a msgpack extension type, which frames never carry"
    if parameter not in _MSGPACK_LIMITS:
        return None
    description, limit, name = _MSGPACK_LIMITS[parameter]
    return f"{description.format(size)}, limit is {limit} ({name})"


def _msgpack_reason(exc: Exception) -> str:
    """Return why msgpack rejected a body, in words, also for its exceptions without text."""
    if isinstance(exc, msgpack.OutOfData):
        return "the body ends inside a value"
    if isinstance(exc, msgpack.FormatError):
        return "it contains a byte that starts no msgpack type"
    return str(exc) or type(exc).__name__


def _within_depth(value: Any, limit: int) -> bool:
    """Return whether arrays and maps in `value` nest at most `limit` levels deep."""
    # Iterative, because peer data must not reach Python's recursion limit.
    stack = [(value, 1)] if type(value) is list or type(value) is dict else []
    while stack:
        container, depth = stack.pop()
        if depth > limit:
            return False
        items = container.values() if type(container) is dict else container
        for item in items:
            if type(item) is list or type(item) is dict:
                stack.append((item, depth + 1))
    return True


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


def _frame_from_body(body: dict, peer: str, tcp_addresses: bool) -> Frame:
    raw_type = body.get("t")
    if type(raw_type) is not int:
        raise ProtocolError(
            f"frame from {peer} has unknown message type {short_repr(raw_type)}, which is not an int"
        )
    try:
        message_type = MessageType(raw_type)
    except ValueError:
        raise ProtocolError(
            f"frame from {peer} has unknown message type {short_repr(raw_type)}"
        ) from None

    node_id = _field(body, "id", str, peer)
    if not is_node_id(node_id):
        raise ProtocolError(
            f"frame from {peer}: node id {short_repr(node_id)} is not 16 lowercase hex characters"
        )
    address = _field(body, "addr", str, peer)
    if len(address) > MAX_ADDRESS_LENGTH:
        raise ProtocolError(
            f"frame from {peer}: address {short_repr(address)} is longer than "
            f"{MAX_ADDRESS_LENGTH} characters (MAX_ADDRESS_LENGTH)"
        )
    incarnation = _field(body, "inc", int, peer)
    if not 0 <= incarnation < 2**63:
        raise ProtocolError(
            f"frame from {peer}: incarnation {incarnation} is outside 0..2**63-1"
        )

    members_raw = _field(body, "members", list, peer)
    if len(members_raw) > MAX_MEMBERS_PER_FRAME:
        raise ProtocolError(
            f"frame from {peer} lists {len(members_raw)} members, "
            f"limit is {MAX_MEMBERS_PER_FRAME} (MAX_MEMBERS_PER_FRAME)"
        )

    digest = _version_map(body, "dig", peer)
    reach = _version_map(body, "reach", peer)
    more = _field(body, "more", bool, peer)
    # Nodes from before streamed syncs do not send "incoming"; it is optional.
    incoming = _version_map(body, "incoming", peer) if "incoming" in body else {}

    jobs_raw = _field(body, "jobs", list, peer)
    messages_raw = _field(body, "msgs", list, peer)
    if len(jobs_raw) + len(messages_raw) > MAX_RECORDS_PER_FRAME:
        raise ProtocolError(
            f"frame from {peer} carries {len(jobs_raw) + len(messages_raw)} records, "
            f"limit is {MAX_RECORDS_PER_FRAME} (MAX_RECORDS_PER_FRAME)"
        )

    try:
        members = [member_from_wire(entry) for entry in members_raw]
        if tcp_addresses:
            for member in members:
                _check_member_address(member)
    except ProtocolError as exc:
        raise ProtocolError(f"frame from {peer} has an invalid member: {exc}") from None

    stamps: dict[str, tuple[str, int]] = {}
    jobs = []
    for entry in jobs_raw:
        stamp, fields = _stamped(entry, peer)
        record = record_from_wire(fields)
        stamps[record.id] = stamp
        jobs.append(record)
    messages = []
    for entry in messages_raw:
        stamp, fields = _stamped(entry, peer)
        message = message_from_wire(fields)
        stamps["m:" + message.id] = stamp
        messages.append(message)

    return Frame(
        type=message_type,
        node_id=node_id,
        address=address,
        incarnation=incarnation,
        members=members,
        digest=digest,
        reach=reach,
        more=more,
        incoming=incoming,
        jobs=jobs,
        messages=messages,
        stamps=stamps,
    )


def _check_member_address(member: Member) -> None:
    """Raise ProtocolError unless the member's address parses as --bootstrap does."""
    try:
        parse_address(member.address, f"member {member.node_id} address")
    except ConfigError as exc:
        raise ProtocolError(str(exc)) from None


def _is_version(value: Any) -> bool:
    return type(value) is int and 0 <= value < 2**63


def _check_origin(origin: Any, peer: str) -> str:
    if not isinstance(origin, str) or not 1 <= len(origin) <= MAX_ORIGIN_LENGTH:
        raise ProtocolError(
            f"frame from {peer}: origin {short_repr(origin)} is not a string of "
            f"1..{MAX_ORIGIN_LENGTH} characters (MAX_ORIGIN_LENGTH)"
        )
    return origin


def _version_map(body: dict, name: str, peer: str) -> dict[str, int]:
    raw = _field(body, name, dict, peer)
    if len(raw) > MAX_DIGEST_ENTRIES:
        raise ProtocolError(
            f"frame from {peer}: field {name!r} lists {len(raw)} origins, "
            f"limit is {MAX_DIGEST_ENTRIES} (MAX_DIGEST_ENTRIES)"
        )
    for origin, version in raw.items():
        _check_origin(origin, peer)
        if not _is_version(version):
            raise ProtocolError(
                f"frame from {peer}: field {name!r} has version {short_repr(version)} for "
                f"{short_repr(origin)}, expected a non-negative int"
            )
    return raw


def _stamped(entry: Any, peer: str) -> tuple[tuple[str, int], Any]:
    if not isinstance(entry, list) or len(entry) != 3:
        raise ProtocolError(
            f"frame from {peer}: a record entry must be [origin, version, fields]"
        )
    origin, version, fields = entry
    _check_origin(origin, peer)
    if not _is_version(version):
        raise ProtocolError(
            f"frame from {peer}: record version {short_repr(version)} is not a non-negative int"
        )
    return (origin, version), fields


async def read_frame(reader: asyncio.StreamReader, peer: str) -> bytes | None:
    """Read one frame body; return None on a clean end of stream before a header."""
    length = await _read_length(reader, peer)
    if length is None:
        return None
    if length > MAX_FRAME_BYTES:
        raise FrameTooLarge(
            f"frame from {peer} is {length} bytes, limit is {MAX_FRAME_BYTES} (MAX_FRAME_BYTES)"
        )
    return await _read_body(reader, peer, length)


async def read_challenge(reader: asyncio.StreamReader, peer: str) -> bytes | None:
    """Read the opening frame of a keyed connection, which must be a challenge.

    A length prefix other than CHALLENGE_FRAME_BYTES raises AuthenticationFailed
    before any of the body is read, so a peer that has not authenticated
    cannot make this node buffer a large frame. Returns None on a clean end
    of stream before a header.
    """
    length = await _read_length(reader, peer)
    if length is None:
        return None
    if length != CHALLENGE_FRAME_BYTES:
        raise AuthenticationFailed(
            f"the first frame from {peer} is {length} bytes, but a challenge frame is "
            f"{CHALLENGE_FRAME_BYTES} (CHALLENGE_FRAME_BYTES): the peer has no cluster key, "
            "or runs an older ants whose connecting side sends no challenge"
        )
    return await _read_body(reader, peer, length)


async def _read_length(reader: asyncio.StreamReader, peer: str) -> int | None:
    try:
        header = await reader.readexactly(HEADER.size)
    except asyncio.IncompleteReadError as exc:
        if not exc.partial:
            return None
        raise IncompleteFrame(f"connection from {peer} closed inside a frame header") from exc
    (length,) = HEADER.unpack(header)
    return length


async def _read_body(reader: asyncio.StreamReader, peer: str, length: int) -> bytes:
    try:
        return await reader.readexactly(length)
    except asyncio.IncompleteReadError as exc:
        raise IncompleteFrame(
            f"connection from {peer} closed after {len(exc.partial)} of {length} frame bytes"
        ) from exc
