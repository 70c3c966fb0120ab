"""Jobs: the record that travels between nodes and the object user hooks see."""

from __future__ import annotations

import enum
import hashlib
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from ants.errors import JobError
from ants.node.identity import is_node_id
from ants.node.plain import canonical_bytes, check_plain, encoded_size, is_plain, short_repr

logger = logging.getLogger(__name__)

ID_BYTES = 16
"""Length of a job id in bytes; ids travel as 32 hex characters."""

MAX_NAME_LENGTH = 200
"""Maximum length of a job name in characters."""

MAX_PAYLOAD_BYTES = 1024 * 1024
"""Maximum encoded size of a payload, a result or a message body, in bytes."""

MAX_ERROR_CHARS = 16_000
"""Maximum length of a job's error text in characters."""

MAX_ATTEMPTS = 1_000_000
"""Maximum value of a job's max_attempts."""

MAX_TIMESTAMP = 253_402_300_799.0
"""Latest wall-clock time a record may carry, in seconds since the epoch:
9999-12-31 23:59:59 UTC, the last second that `datetime` can represent."""


class JobStatus(enum.IntEnum):
    """The stage of a job's life. The values travel on the wire, so only append."""

    PENDING = 1
    ASSIGNED = 2
    DONE = 3
    FAILED = 4

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATUSES


TERMINAL_STATUSES = frozenset({JobStatus.DONE, JobStatus.FAILED})
"""Statuses that end a job: the record is never replaced by a non-terminal one."""


def check_size(value: Any, what: str) -> None:
    """Raise JobError if the encoded `value` is over MAX_PAYLOAD_BYTES."""
    size = len(canonical_bytes(value))
    if size > MAX_PAYLOAD_BYTES:
        raise JobError(
            f"{what} encodes to {size} bytes, limit is {MAX_PAYLOAD_BYTES}; "
            "store large data elsewhere and pass a reference"
        )


def make_job_id(name: str, payload: Any = None, key: Any = None) -> str:
    """Return the content address of a job: a hash of its name and payload.

    When `key` is given it replaces the payload in the hash, so jobs with
    different payloads but the same name and key are one job.
    """
    identity = payload if key is None else ["key", key]
    digest = hashlib.blake2b(digest_size=ID_BYTES, person=b"ants-job")
    digest.update(name.encode())
    digest.update(b"\0")
    digest.update(canonical_bytes(identity))
    return digest.hexdigest()


def rendezvous_rank(job_id: str, node_id: str, attempt: int = 0) -> int:
    """Return the rendezvous hash of a claim; the highest claimer of an attempt wins.

    The attempt is part of the hash, so each retry of a job prefers another
    node, and a node that keeps failing a job does not get every attempt.
    """
    key = f"{job_id}/{node_id}" if attempt == 0 else f"{job_id}/{attempt}/{node_id}"
    digest = hashlib.blake2b(key.encode(), digest_size=8, person=b"ants-rdv")
    return int.from_bytes(digest.digest(), "big")


@dataclass(frozen=True, slots=True)
class JobRecord:
    """One version of a job as the cluster replicates it.

    Records are immutable; every change makes a new record, and `merge_key`
    decides which of two versions of one job a replica keeps.
    """

    id: str
    name: str
    payload: Any
    status: JobStatus = JobStatus.PENDING
    attempt: int = 0
    """Attempt number, from 0; a re-queue writes attempt + 1."""
    owner: str | None = None
    """Node id that claimed, finished or failed this attempt. On a pending record
    after a failed or lost attempt, the previous owner, which retries avoid."""
    result: Any = None
    error: str | None = None
    """The last error, kept across re-queues."""
    max_attempts: int = 3
    timeout: float | None = None
    """Seconds an attempt may run before the owner fails it, counted from when a
    worker passes the job to do_jobs."""
    creator: str | None = None
    created: float = 0.0
    """Wall-clock creation time in seconds since the epoch, for display and expiry."""
    finished: float | None = None
    """Wall-clock time the record became terminal. None on a record that failed
    because its last attempt was lost with its owner, since nodes notice that at
    different times and must write the same record."""

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    def wins_over(self, other: JobRecord) -> bool:
        """Return whether this version replaces `other` in a merge."""
        mine, theirs = self._order_prefix(), other._order_prefix()
        if mine != theirs:
            return mine > theirs
        return canonical_bytes(self.to_wire()) > canonical_bytes(other.to_wire())

    def _order_prefix(self) -> tuple[int, int, int, int]:
        terminal_rank = 0
        if self.status is JobStatus.DONE:
            terminal_rank = 2
        elif self.status is JobStatus.FAILED:
            terminal_rank = 1
        claim_rank = rendezvous_rank(self.id, self.owner, self.attempt) if self.owner else 0
        return (terminal_rank, self.attempt, int(self.status), claim_rank)

    def merge_key(self) -> tuple:
        """Return the total order key: of two versions of a job, the greater wins.

        1. Terminal beats non-terminal whatever the attempts, and done beats failed.
        2. A higher attempt beats a lower one.
        3. Within an attempt, pending < assigned.
        4. Between claims of one attempt, the higher rendezvous rank of
           (job id, owner) wins, so every node picks the same owner.
        5. Anything still equal is ordered by the record's canonical bytes.
        """
        return (*self._order_prefix(), canonical_bytes(self.to_wire()))

    def to_wire(self) -> list:
        """Encode the record as a list of plain values for msgpack."""
        return [
            self.id,
            self.name,
            self.payload,
            int(self.status),
            self.attempt,
            self.owner,
            self.result,
            self.error,
            self.max_attempts,
            self.timeout,
            self.creator,
            self.created,
            self.finished,
        ]

    def with_changes(self, **changes: Any) -> JobRecord:
        return replace(self, **changes)


class Job:
    """A job as user hooks see it: create one, or read and finish a given one.

    `Job(name, payload)` builds a new pending job whose id is a hash of the
    name and payload (or of `key`, when given). Jobs passed to `do_jobs` are
    finished with `set_result(dict)` or `set_error(message)`.
    """

    def __init__(
        self,
        name: str,
        payload: Any = None,
        *,
        key: Any = None,
        max_attempts: int | None = None,
        timeout: float | None = None,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise JobError(f"job name must be a non-empty str, got {name!r}")
        if len(name) > MAX_NAME_LENGTH:
            raise JobError(
                f"job name is {len(name)} characters, limit is {MAX_NAME_LENGTH}"
            )
        if max_attempts is not None and not 1 <= max_attempts <= MAX_ATTEMPTS:
            raise JobError(f"max_attempts must be in 1..{MAX_ATTEMPTS:,}, got {max_attempts}")
        if timeout is not None and not (timeout > 0 and math.isfinite(timeout)):
            raise JobError(
                f"timeout must be a positive finite number of seconds, got {timeout}"
            )
        payload = check_plain(payload, "payload")
        check_size(payload, "payload")
        if key is not None:
            key = check_plain(key, "key")
        self._record = JobRecord(
            id=make_job_id(name, payload, key),
            name=name,
            payload=payload,
            max_attempts=max_attempts or 0,
            timeout=timeout,
            created=time.time(),
        )
        self._lock = threading.Lock()
        self._outcome: tuple[str, Any] | None = None
        self._sink: Callable[[Job], None] | None = None

    @classmethod
    def from_record(
        cls, record: JobRecord, sink: Callable[[Job], None] | None = None
    ) -> Job:
        """Wrap a replicated record; `sink` receives the job when it is finished."""
        job = cls.__new__(cls)
        job._record = record
        job._lock = threading.Lock()
        job._outcome = None
        job._sink = sink
        return job

    @property
    def record(self) -> JobRecord:
        return self._record

    @property
    def id(self) -> str:
        return self._record.id

    @property
    def name(self) -> str:
        return self._record.name

    @property
    def payload(self) -> Any:
        """The job's plain-data payload. Treat it as read-only: replicas share it."""
        return self._record.payload

    @property
    def status(self) -> JobStatus:
        return self._record.status

    @property
    def attempt(self) -> int:
        return self._record.attempt

    @property
    def owner(self) -> str | None:
        return self._record.owner

    @property
    def assigned_to(self) -> str | None:
        """The owner's node id; the name the original ants used."""
        return self._record.owner

    @property
    def result(self) -> Any:
        if self._outcome is not None and self._outcome[0] == "result":
            return self._outcome[1]
        return self._record.result

    @property
    def error(self) -> str | None:
        if self._outcome is not None and self._outcome[0] == "error":
            return self._outcome[1]
        return self._record.error

    @property
    def created(self) -> float:
        return self._record.created

    @property
    def finished(self) -> float | None:
        return self._record.finished

    @property
    def is_finished(self) -> bool:
        """Whether `set_result` or `set_error` has been called on this object."""
        return self._outcome is not None

    def set_result(self, result: Any) -> None:
        """Finish the job with a plain-data result; the job becomes done.

        A result that is not plain data, or is over MAX_PAYLOAD_BYTES,
        raises PayloadError or JobError. In a running node it fails this
        job's attempt with that message instead, so that one bad result
        does not fail the other jobs of the same `do_jobs` call.
        """
        try:
            checked = check_plain(result, "result")
            check_size(checked, "result")
        except JobError as exc:
            if self._sink is None:
                raise
            logger.warning(
                "job %s (%s): invalid result: %s; the attempt fails",
                self.id,
                self.name,
                exc,
            )
            self.set_error(f"invalid result: {exc}")
            return
        self._finish(("result", checked))

    def set_error(self, error: str | BaseException) -> None:
        """Fail this attempt; the job is re-queued until its attempts run out."""
        if isinstance(error, BaseException):
            error = f"{type(error).__name__}: {error}"
        self._finish(("error", str(error)))

    def _finish(self, outcome: tuple[str, Any]) -> None:
        with self._lock:
            if self._outcome is not None:
                raise JobError(
                    f"job {self.id[:12]} ({self.name}) is already finished; "
                    "call set_result or set_error once per job"
                )
            self._outcome = outcome
        if self._sink is not None:
            self._sink(self)

    def outcome(self) -> tuple[str, Any] | None:
        return self._outcome

    def __repr__(self) -> str:
        return (
            f"Job(name={self.name!r}, id={self.id[:12]}, status={self.status.name}, "
            f"attempt={self.attempt}, owner={self.owner})"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Job):
            return NotImplemented
        return self.id == other.id

    def __hash__(self) -> int:
        return hash(self.id)


@dataclass(frozen=True, slots=True)
class Message:
    """A broadcast message that every node receives until it expires.

    The id is a hash of sender, body and creation time, so a message is only
    ever one record and merging two replicas keeps it once.
    """

    sender: str
    body: Any
    created: float
    expires: float
    """Wall-clock expiry time in seconds since the epoch."""
    id: str = field(default="")

    def __post_init__(self) -> None:
        if not self.id:
            digest = hashlib.blake2b(digest_size=ID_BYTES, person=b"ants-msg")
            digest.update(canonical_bytes([self.sender, self.body, self.created]))
            object.__setattr__(self, "id", digest.hexdigest())

    @classmethod
    def create(cls, body: Any, ttl: float = 30.0, sender: str = "") -> Message:
        """Build a message that expires `ttl` seconds from now."""
        now = time.time()
        if not (ttl > 0 and now + ttl <= MAX_TIMESTAMP):
            raise JobError(
                f"message ttl must be a positive number of seconds that ends before "
                f"the year 10000, got {ttl}"
            )
        body = check_plain(body, "body")
        check_size(body, "message body")
        return cls(sender=sender, body=body, created=now, expires=now + ttl)

    def is_expired(self, now: float | None = None) -> bool:
        return (time.time() if now is None else now) >= self.expires

    def to_wire(self) -> list:
        return [self.id, self.sender, self.body, self.created, self.expires]


_HEX = frozenset("0123456789abcdef")


def _check_id(value: Any, what: str) -> str:
    if not isinstance(value, str) or len(value) != 2 * ID_BYTES or not set(value) <= _HEX:
        raise JobError(
            f"{what} {short_repr(value)} is not {2 * ID_BYTES} lowercase hex characters"
        )
    return value


def _check_type(value: Any, types: type | tuple, what: str, optional: bool = False) -> Any:
    if value is None and optional:
        return None
    allowed = types if isinstance(types, tuple) else (types,)
    if type(value) in allowed:
        return value
    if isinstance(value, bool) and bool not in allowed:
        raise JobError(f"{what} must be {_type_names(allowed)}, got bool {value}")
    if not isinstance(value, types):
        raise JobError(
            f"{what} {short_repr(value)} has type {type(value).__name__}, "
            f"expected {_type_names(allowed)}"
        )
    return value


def _type_names(types: tuple[type, ...]) -> str:
    return " or ".join(t.__name__ for t in types)


def _check_node_id(value: Any, what: str) -> str | None:
    if value is not None and not is_node_id(value):
        raise JobError(
            f"{what} {short_repr(value)} is not a node id of 16 lowercase hex characters"
        )
    return value


def _check_time(value: Any, what: str, optional: bool = False) -> float | None:
    """Return `value` as a float if it is a wall-clock time in 0..MAX_TIMESTAMP."""
    _check_type(value, (int, float), what, optional)
    if value is None:
        return None
    # NaN fails both comparisons, so it is rejected too.
    if not 0 <= value <= MAX_TIMESTAMP:
        raise JobError(
            f"{what} {short_repr(value)} is not a time in 0..{MAX_TIMESTAMP:.0f} "
            "seconds since the epoch"
        )
    return float(value)


def _check_data(value: Any, what: str) -> Any:
    """Return plain `value` if it encodes to at most MAX_PAYLOAD_BYTES, else raise JobError."""
    checked = value if is_plain(value) else check_plain(value, what)
    size = encoded_size(checked)
    if size > MAX_PAYLOAD_BYTES:
        raise JobError(
            f"{what} encodes to {size:,} bytes, limit is {MAX_PAYLOAD_BYTES:,} "
            "(MAX_PAYLOAD_BYTES)"
        )
    return checked


def _check_attempts(status: JobStatus, attempt: Any, max_attempts: Any, where: str) -> None:
    """Check the attempt fields against the values the runtime writes.

    A record's attempt stays below max_attempts, except that a failed record
    may reach it: a re-queue after the last attempt writes attempt + 1.
    """
    _check_type(attempt, int, f"{where}: attempt")
    _check_type(max_attempts, int, f"{where}: max_attempts")
    if not 1 <= max_attempts <= MAX_ATTEMPTS:
        raise JobError(
            f"{where}: max_attempts {max_attempts} is outside 1..{MAX_ATTEMPTS:,} (MAX_ATTEMPTS)"
        )
    if attempt < 0:
        raise JobError(f"{where}: attempt {attempt} is negative")
    if status is JobStatus.FAILED:
        if attempt > max_attempts:
            raise JobError(
                f"{where}: attempt {attempt} is over max_attempts {max_attempts} "
                "(status FAILED)"
            )
    elif attempt >= max_attempts:
        raise JobError(
            f"{where}: attempt {attempt} is not below max_attempts {max_attempts} "
            f"(status {status.name})"
        )


def record_from_wire(fields: Any) -> JobRecord:
    """Decode and validate a record sent by a peer; raise JobError naming the field and value."""
    if not isinstance(fields, list):
        raise JobError(f"job record must be a list of 13 fields, got {short_repr(fields)}")
    if len(fields) != 13:
        raise JobError(f"job record must be a list of 13 fields, got {len(fields)} fields")
    (job_id, name, payload, status, attempt, owner, result, error, max_attempts,
     timeout, creator, created, finished) = fields

    _check_id(job_id, "job id")
    where = f"job {job_id}"
    _check_type(name, str, f"{where}: name")
    if not 1 <= len(name) <= MAX_NAME_LENGTH:
        raise JobError(
            f"{where}: name {short_repr(name)} is not 1..{MAX_NAME_LENGTH} characters long "
            "(MAX_NAME_LENGTH)"
        )

    if type(status) is not int:
        raise JobError(f"{where}: status {short_repr(status)} is not an int")
    try:
        status = JobStatus(status)
    except ValueError:
        raise JobError(
            f"{where}: status {status} is not one of {[s.value for s in JobStatus]}"
        ) from None
    _check_attempts(status, attempt, max_attempts, where)

    _check_node_id(owner, f"{where}: owner")
    _check_node_id(creator, f"{where}: creator")
    if status is not JobStatus.PENDING and owner is None:
        raise JobError(f"{where} is {status.name} but has no owner")

    _check_type(error, str, f"{where}: error", optional=True)
    if error is not None and len(error) > MAX_ERROR_CHARS:
        raise JobError(
            f"{where}: error text is {len(error):,} characters, limit is {MAX_ERROR_CHARS:,} "
            "(MAX_ERROR_CHARS)"
        )

    _check_type(timeout, (int, float), f"{where}: timeout", optional=True)
    if timeout is not None and not (timeout > 0 and math.isfinite(timeout)):
        raise JobError(
            f"{where}: timeout {timeout!r} is not a positive finite number of seconds"
        )

    finished = _check_time(finished, f"{where}: finished", optional=True)
    # A node writes DONE only with the time it finished. A FAILED record may
    # lack it, because a re-queue after the last attempt writes none.
    if status is JobStatus.DONE and finished is None:
        raise JobError(f"{where} is DONE but has no finished time")

    return JobRecord(
        id=job_id,
        name=name,
        payload=_check_data(payload, f"{where}: payload"),
        status=status,
        attempt=attempt,
        owner=owner,
        result=_check_data(result, f"{where}: result"),
        error=error,
        max_attempts=max_attempts,
        timeout=None if timeout is None else float(timeout),
        creator=creator,
        created=_check_time(created, f"{where}: created"),
        finished=finished,
    )


def message_from_wire(fields: Any) -> Message:
    """Decode and validate a broadcast message sent by a peer."""
    if not isinstance(fields, list):
        raise JobError(f"message must be a list of 5 fields, got {short_repr(fields)}")
    if len(fields) != 5:
        raise JobError(f"message must be a list of 5 fields, got {len(fields)} fields")
    message_id, sender, body, created, expires = fields
    _check_id(message_id, "message id")
    where = f"message {message_id}"
    _check_node_id(sender, f"{where}: sender")
    if sender is None:
        raise JobError(f"{where}: sender is missing")
    message = Message(
        sender=sender,
        body=_check_data(body, f"{where}: body"),
        created=_check_time(created, f"{where}: created"),
        expires=_check_time(expires, f"{where}: expires"),
    )
    if message.expires < message.created:
        raise JobError(
            f"{where}: expires {message.expires!r} is before created {message.created!r}"
        )
    if message.id != message_id:
        raise JobError(f"message id {message_id} does not match its content")
    return message
