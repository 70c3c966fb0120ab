"""Job content addressing, plain-data payloads, results and wire decoding."""

from __future__ import annotations

import datetime
import math
import threading

import pytest

from ants import Job, JobStatus
from ants.errors import JobError, PayloadError
from ants.node.job import (
    MAX_PAYLOAD_BYTES,
    JobRecord,
    Message,
    make_job_id,
    message_from_wire,
    record_from_wire,
)


class Opaque:
    """A user object that is not plain data."""


# Content addressing


def test_job_id_same_for_same_content():
    assert Job("resize", {"w": 10, "h": 20}).id == Job("resize", {"w": 10, "h": 20}).id


def test_job_id_ignores_dict_key_order():
    first = Job("resize", {"w": 10, "h": 20, "opts": {"a": 1, "b": [1, 2]}})
    second = Job("resize", {"opts": {"b": [1, 2], "a": 1}, "h": 20, "w": 10})
    assert first.id == second.id


def test_job_id_tuple_equals_list():
    assert Job("sum", (1, 2, (3, 4))).id == Job("sum", [1, 2, [3, 4]]).id


def test_job_payload_tuple_becomes_list():
    assert Job("sum", (1, (2, 3))).payload == [1, [2, 3]]


def test_job_id_differs_by_name():
    assert Job("a", {"x": 1}).id != Job("b", {"x": 1}).id


def test_job_id_differs_by_payload():
    assert Job("a", {"x": 1}).id != Job("a", {"x": 2}).id


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (1, "1"),
        (1, 1.0),
        (1, True),
        (b"x", "x"),
        (None, []),
        ([1, 2], [2, 1]),
        ({"a": None}, {}),
    ],
)
def test_job_id_distinguishes_types(first, second):
    assert Job("j", first).id != Job("j", second).id


def test_job_id_nan_differs_from_string():
    assert Job("j", float("nan")).id != Job("j", "NaN").id


def test_job_id_same_for_every_nan():
    assert Job("j", [float("nan")]).id == Job("j", [-float("nan")]).id


def test_job_key_replaces_payload_in_hash():
    first = Job("fetch", {"url": "a", "retry": 1}, key="a")
    second = Job("fetch", {"url": "a", "retry": 2}, key="a")
    assert first.id == second.id


def test_job_key_differs_from_payload_hash():
    keyed = Job("fetch", {"url": "a"}, key={"url": "a"})
    plain = Job("fetch", {"url": "a"})
    assert keyed.id != plain.id


def test_job_different_keys_differ():
    assert Job("fetch", None, key="a").id != Job("fetch", None, key="b").id


def test_job_id_is_32_hex_characters():
    job_id = Job("x", {"n": 1}).id
    assert len(job_id) == 32
    assert set(job_id) <= set("0123456789abcdef")


def test_job_id_matches_make_job_id():
    assert Job("x", {"n": 1}).id == make_job_id("x", {"n": 1})


def test_job_new_is_pending_attempt_zero():
    job = Job("x", 1)
    assert job.status is JobStatus.PENDING
    assert job.attempt == 0
    assert job.owner is None
    assert job.result is None


def test_job_equality_uses_id():
    assert Job("x", {"a": 1, "b": 2}) == Job("x", {"b": 2, "a": 1})
    assert len({Job("x", 1), Job("x", 1), Job("x", 2)}) == 2


# Plain-data payloads

NOT_PLAIN = [
    pytest.param({1, 2}, "payload is a builtins.set", id="set"),
    pytest.param(Opaque(), f"payload is a {Opaque.__module__}.Opaque", id="object"),
    pytest.param(
        datetime.datetime(2024, 1, 1), "payload is a datetime.datetime", id="datetime"
    ),
    pytest.param({1: "a"}, "payload has a key 1 of type int", id="int-key"),
    pytest.param(
        {"a": [0, {"b": {3}}]},
        "payload['a'][1]['b'] is a builtins.set",
        id="nested-set",
    ),
    pytest.param(
        {"a": [0, {2: "x"}]}, "payload['a'][1] has a key 2", id="nested-int-key"
    ),
    pytest.param(
        [1, [2, Opaque()]],
        f"payload[1][1] is a {Opaque.__module__}.Opaque",
        id="nested-object",
    ),
    pytest.param(2**64, "payload is 18446744073709551616, outside", id="huge-int"),
]


@pytest.mark.parametrize(("payload", "start"), NOT_PLAIN)
def test_job_non_plain_payload_names_path(payload, start):
    with pytest.raises(PayloadError) as caught:
        Job("x", payload)
    assert str(caught.value).startswith(start)


def test_job_set_payload_message_is_pinned():
    with pytest.raises(PayloadError) as caught:
        Job("x", {"hosts": ["a", {"ports": {80}}]})
    assert str(caught.value) == (
        "payload['hosts'][1]['ports'] is a builtins.set, which is not plain data; "
        "use dict, list, str, int, float, bool, None or bytes"
    )


def test_job_int_key_message_is_pinned():
    with pytest.raises(PayloadError) as caught:
        Job("x", {"a": [0, {7: "x"}]})
    assert str(caught.value) == (
        "payload['a'][1] has a key 7 of type int; dict keys must be str"
    )


def test_job_payload_error_is_job_error():
    with pytest.raises(JobError):
        Job("x", {1, 2})
    with pytest.raises(TypeError):
        Job("x", {1, 2})


def test_job_deep_nesting_rejected():
    payload: list = [1]
    for _ in range(40):
        payload = [payload]
    with pytest.raises(PayloadError) as caught:
        Job("x", payload)
    assert "nested deeper than 32 levels" in str(caught.value)


def test_job_self_referencing_payload_rejected():
    payload: list = []
    payload.append(payload)
    with pytest.raises(PayloadError):
        Job("x", payload)


def test_job_non_plain_key_names_key():
    with pytest.raises(PayloadError) as caught:
        Job("x", None, key={"k": {1}})
    assert str(caught.value).startswith("key['k'] is a builtins.set")


@pytest.mark.parametrize(
    "payload",
    [
        None,
        True,
        0,
        -(2**63),
        2**64 - 1,
        1.5,
        "s",
        b"\x00",
        [],
        {},
        {"a": [1, {"b": None}]},
    ],
)
def test_job_plain_payload_accepted(payload):
    assert Job("x", payload).payload == payload


@pytest.mark.parametrize(
    ("kwargs", "text"),
    [
        ({"name": ""}, "job name must be a non-empty str, got ''"),
        ({"name": 5}, "job name must be a non-empty str, got 5"),
        ({"name": "n" * 201}, "job name is 201 characters, limit is 200"),
        ({"name": "x", "max_attempts": 0}, "max_attempts must be in 1..1,000,000, got 0"),
        (
            {"name": "x", "timeout": 0},
            "timeout must be a positive finite number of seconds, got 0",
        ),
        (
            {"name": "x", "timeout": math.inf},
            "timeout must be a positive finite number of seconds, got inf",
        ),
    ],
)
def test_job_invalid_arguments_rejected(kwargs, text):
    with pytest.raises(JobError) as caught:
        Job(**kwargs)
    assert str(caught.value) == text


# Results


def test_set_result_twice_raises():
    job = Job("x", 1)
    job.set_result({"ok": True})
    with pytest.raises(JobError) as caught:
        job.set_result({"ok": False})
    assert "is already finished" in str(caught.value)
    assert job.result == {"ok": True}


def test_set_error_after_result_raises():
    job = Job("x", 1)
    job.set_result({"ok": True})
    with pytest.raises(JobError):
        job.set_error("late")
    assert job.error is None


def test_job_payload_over_size_limit_rejected():
    payload = b"x" * MAX_PAYLOAD_BYTES
    with pytest.raises(JobError) as caught:
        Job("x", payload)
    size = MAX_PAYLOAD_BYTES + 5
    assert str(caught.value).startswith(
        f"payload encodes to {size} bytes, limit is {MAX_PAYLOAD_BYTES}"
    )


def test_set_result_over_size_limit_rejected():
    job = Job("x", 1)
    with pytest.raises(JobError) as caught:
        job.set_result({"data": b"x" * MAX_PAYLOAD_BYTES})
    assert "limit is 1048576" in str(caught.value)
    assert not job.is_finished


def test_set_result_non_plain_raises():
    job = Job("x", 1)
    with pytest.raises(PayloadError) as caught:
        job.set_result({"when": datetime.date(2024, 1, 1)})
    assert str(caught.value).startswith("result['when'] is a datetime.date")
    assert not job.is_finished


def test_set_result_calls_sink_once():
    finished = []
    job = Job.from_record(Job("x", 1).record, sink=finished.append)
    job.set_result({"n": 2})
    assert finished == [job]
    assert job.outcome() == ("result", {"n": 2})


def test_set_result_race_has_one_winner():
    job = Job("x", 1)
    errors = []
    barrier = threading.Barrier(8)

    def finish(n: int) -> None:
        barrier.wait()
        try:
            job.set_result({"n": n})
        except JobError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=finish, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(errors) == 7


def test_set_error_formats_exception():
    job = Job("x", 1)
    job.set_error(ValueError("bad input"))
    assert job.error == "ValueError: bad input"


# Decoding records from peers


def valid_wire(**changes) -> list:
    record = JobRecord(
        id=make_job_id("x", 1),
        name="x",
        payload=1,
        status=JobStatus.ASSIGNED,
        attempt=1,
        owner="00000000000000aa",
        max_attempts=3,
        creator="00000000000000bb",
        created=1000.0,
    )
    return record.with_changes(**changes).to_wire()


def test_record_from_wire_round_trip():
    wire = valid_wire(result=None, error="old", timeout=5.0)
    record = record_from_wire(wire)
    assert record.to_wire() == wire


def test_record_from_wire_ints_become_floats():
    wire = valid_wire()
    wire[11] = 1000
    wire[9] = 5
    record = record_from_wire(wire)
    assert isinstance(record.created, float)
    assert isinstance(record.timeout, float)


FIELDS = {
    "id": 0,
    "name": 1,
    "payload": 2,
    "status": 3,
    "attempt": 4,
    "owner": 5,
    "result": 6,
    "error": 7,
    "max_attempts": 8,
    "timeout": 9,
    "creator": 10,
    "created": 11,
    "finished": 12,
}

OVER_PAYLOAD_LIMIT = {"s": "x" * (MAX_PAYLOAD_BYTES + 1)}

BAD_FIELDS = [
    ("id", "ABC", "job id 'ABC' is not 32 lowercase hex characters"),
    ("id", "A" * 32, "job id 'AAAA"),
    ("id", 5, "job id 5 is not 32 lowercase hex characters"),
    ("name", 5, "name 5 has type int, expected str"),
    ("name", "", "name '' is not 1..200 characters long"),
    ("name", "n" * 201, "name 'nnnn"),
    ("name", "n" * 201, "(201 characters) is not 1..200 characters long"),
    ("payload", {1: "a"}, "payload has a key 1 of type int"),
    ("payload", OVER_PAYLOAD_LIMIT, "payload encodes to 1,048,585 bytes, limit is 1,048,576"),
    ("status", 9, "status 9 is not one of [1, 2, 3, 4]"),
    ("status", "done", "status 'done' is not an int"),
    ("status", None, "status None is not an int"),
    ("status", True, "status True is not an int"),
    ("status", 2.0, "status 2.0 is not an int"),
    ("attempt", "1", "attempt '1' has type str"),
    ("attempt", True, "attempt must be int, got bool True"),
    ("attempt", -1, "attempt -1 is negative"),
    ("attempt", 3, "attempt 3 is not below max_attempts 3 (status ASSIGNED)"),
    ("attempt", 50, "attempt 50 is not below max_attempts 3 (status ASSIGNED)"),
    ("attempt", 2**40, "attempt 1099511627776 is not below max_attempts 3"),
    ("owner", 5, "owner 5 is not a node id of 16 lowercase hex characters"),
    ("owner", "", "owner '' is not a node id"),
    ("owner", "a" * 65, "owner 'aaaa"),
    ("owner", "NOT A NODE ID!!", "owner 'NOT A NODE ID!!' is not a node id"),
    ("owner", "00000000000000AA", "owner '00000000000000AA' is not a node id"),
    ("result", {"a": {1, 2}}, "result['a'] is a builtins.set"),
    ("result", OVER_PAYLOAD_LIMIT, "result encodes to 1,048,585 bytes, limit is 1,048,576"),
    ("error", 3, "error 3 has type int"),
    ("error", "e" * 16_001, "error text is 16,001 characters, limit is 16,000"),
    ("max_attempts", 0, "max_attempts 0 is outside 1..1,000,000"),
    ("max_attempts", 1_000_001, "max_attempts 1000001 is outside 1..1,000,000"),
    ("max_attempts", 1.5, "max_attempts 1.5 has type float"),
    ("timeout", "5", "timeout '5' has type str"),
    ("timeout", True, "timeout must be int or float, got bool"),
    ("timeout", -1.0, "timeout -1.0 is not a positive finite number of seconds"),
    ("timeout", 0, "timeout 0 is not a positive finite number of seconds"),
    ("timeout", math.inf, "timeout inf is not a positive finite number of seconds"),
    ("timeout", math.nan, "timeout nan is not a positive finite number of seconds"),
    ("creator", 3, "creator 3 is not a node id"),
    ("creator", "c" * 65, "creator 'cccc"),
    ("created", "x", "created 'x' has type str"),
    ("created", None, "created None has type NoneType"),
    ("created", math.nan, "created nan is not a time in 0..253402300799 seconds since the epoch"),
    ("created", math.inf, "created inf is not a time in 0..253402300799"),
    ("created", -1e300, "created -1e+300 is not a time in 0..253402300799"),
    ("created", -1, "created -1 is not a time in 0..253402300799"),
    ("created", 2**64 - 1, "created 18446744073709551615 is not a time in 0..253402300799"),
    ("finished", "y", "finished 'y' has type str"),
    ("finished", math.nan, "finished nan is not a time in 0..253402300799"),
    ("finished", -math.inf, "finished -inf is not a time in 0..253402300799"),
    ("finished", 1e300, "finished 1e+300 is not a time in 0..253402300799"),
]


@pytest.mark.parametrize(("name", "value", "text"), BAD_FIELDS)
def test_record_from_wire_rejects_bad_field(name, value, text):
    wire = valid_wire()
    wire[FIELDS[name]] = value
    with pytest.raises(JobError) as caught:
        record_from_wire(wire)
    assert text in str(caught.value)


@pytest.mark.parametrize("name", [name for name in FIELDS if name != "id"])
def test_record_error_names_job_id(name):
    wire = valid_wire()
    wire[FIELDS[name]] = object()
    with pytest.raises(JobError) as caught:
        record_from_wire(wire)
    assert str(caught.value).startswith(f"job {wire[0]}: {name}")


def test_record_error_shortens_long_value():
    wire = valid_wire(owner=None)
    wire[FIELDS["owner"]] = "o" * 3_000_000
    with pytest.raises(JobError) as caught:
        record_from_wire(wire)
    assert len(str(caught.value)) < 200
    assert "(3,000,000 characters)" in str(caught.value)


@pytest.mark.parametrize(
    ("status", "attempt", "max_attempts"),
    [
        (JobStatus.PENDING, 2, 3),
        (JobStatus.ASSIGNED, 2, 3),
        (JobStatus.DONE, 2, 3),
        (JobStatus.FAILED, 2, 3),
        # A re-queue after the last attempt writes a failed record with attempt + 1.
        (JobStatus.FAILED, 3, 3),
    ],
)
def test_record_from_wire_accepts_runtime_attempts(status, attempt, max_attempts):
    finished = 1500.0 if status is JobStatus.DONE else None
    wire = valid_wire(
        status=status, attempt=attempt, max_attempts=max_attempts, finished=finished
    )
    record = record_from_wire(wire)
    assert record.attempt == attempt
    assert record.status is status


def test_record_from_wire_rejects_done_without_finished():
    wire = valid_wire(status=JobStatus.DONE, result={"n": 1}, finished=None)
    with pytest.raises(JobError) as caught:
        record_from_wire(wire)
    assert str(caught.value) == f"job {wire[0]} is DONE but has no finished time"


def test_record_from_wire_accepts_failed_without_finished():
    # A re-queue after the last attempt writes FAILED with no finished time.
    wire = valid_wire(status=JobStatus.FAILED, attempt=3, max_attempts=3, finished=None)
    record = record_from_wire(wire)
    assert record.status is JobStatus.FAILED
    assert record.finished is None


def test_record_from_wire_rejects_failed_attempt_over_max():
    wire = valid_wire(status=JobStatus.FAILED, attempt=4, max_attempts=3)
    with pytest.raises(JobError) as caught:
        record_from_wire(wire)
    assert str(caught.value) == (
        f"job {wire[0]}: attempt 4 is over max_attempts 3 (status FAILED)"
    )


def test_record_from_wire_accepts_payload_at_limit():
    # The map header (1 byte), the key "s" (2) and a str 32 header (5) leave 8 bytes less.
    payload = {"s": "x" * (MAX_PAYLOAD_BYTES - 8)}
    record = record_from_wire(valid_wire(payload=payload))
    assert record.payload == payload


@pytest.mark.parametrize("fields", [{}, "x", None, 5])
def test_record_from_wire_rejects_non_list(fields):
    with pytest.raises(JobError) as caught:
        record_from_wire(fields)
    assert str(caught.value).startswith("job record must be a list of 13 fields")


@pytest.mark.parametrize("length", [0, 12, 14])
def test_record_from_wire_rejects_wrong_length(length):
    fields = (valid_wire() + [None])[:length]
    with pytest.raises(JobError):
        record_from_wire(fields)


def test_record_from_wire_length_message_names_count():
    with pytest.raises(JobError) as caught:
        record_from_wire(valid_wire()[:12])
    assert str(caught.value) == "job record must be a list of 13 fields, got 12 fields"


@pytest.mark.parametrize(
    "status", [JobStatus.ASSIGNED, JobStatus.DONE, JobStatus.FAILED]
)
def test_record_from_wire_requires_owner(status):
    wire = valid_wire(status=status, owner=None)
    with pytest.raises(JobError) as caught:
        record_from_wire(wire)
    assert str(caught.value) == f"job {wire[0]} is {status.name} but has no owner"


def test_record_from_wire_pending_without_owner():
    record = record_from_wire(valid_wire(status=JobStatus.PENDING, owner=None))
    assert record.owner is None


# Decoding messages from peers

SENDER = "00000000000000aa"


def message_wire(sender=SENDER, body=None, created=1000.0, expires=2000.0) -> list:
    """Return a message's wire fields with an id that matches its content."""
    return Message(sender=sender, body=body, created=created, expires=expires).to_wire()


def test_message_from_wire_round_trip():
    wire = message_wire(body={"hello": [1, 2]})
    assert message_from_wire(wire).to_wire() == wire


BAD_MESSAGES = [
    ({"sender": "s" * 3_000_000}, "sender 'ssss"),
    ({"sender": "s" * 3_000_000}, "(3,000,000 characters) is not a node id"),
    ({"sender": ""}, "sender '' is not a node id"),
    ({"sender": 5}, "sender 5 is not a node id"),
    ({"sender": None}, "sender is missing"),
    ({"created": math.nan}, "created nan is not a time in 0..253402300799"),
    ({"created": -1.0}, "created -1.0 is not a time in 0..253402300799"),
    ({"expires": math.inf}, "expires inf is not a time in 0..253402300799"),
    ({"expires": math.nan}, "expires nan is not a time in 0..253402300799"),
    ({"expires": "soon"}, "expires 'soon' has type str"),
    ({"expires": 999.5}, "expires 999.5 is before created 1000.0"),
    ({"body": {"s": "x" * (MAX_PAYLOAD_BYTES + 1)}}, "body encodes to 1,048,585 bytes"),
    ({"body": {1: 2}}, "body has a key 1 of type int"),
]


@pytest.mark.parametrize(("changes", "text"), BAD_MESSAGES)
def test_message_from_wire_rejects_bad_field(changes, text):
    fields = {"sender": SENDER, "body": None, "created": 1000.0, "expires": 2000.0}
    fields.update(changes)
    wire = ["0" * 32, fields["sender"], fields["body"], fields["created"], fields["expires"]]
    with pytest.raises(JobError) as caught:
        message_from_wire(wire)
    assert str(caught.value).startswith("message 00000000000000000000000000000000: ")
    assert text in str(caught.value)


def test_message_from_wire_accepts_zero_lifetime():
    wire = message_wire(created=1000.0, expires=1000.0)
    assert message_from_wire(wire).expires == 1000.0


def test_message_from_wire_rejects_wrong_id():
    wire = message_wire()
    wire[0] = "0" * 32
    with pytest.raises(JobError) as caught:
        message_from_wire(wire)
    assert str(caught.value) == f"message id {'0' * 32} does not match its content"


@pytest.mark.parametrize("ttl", [0, -1, math.nan, math.inf, 1e12])
def test_message_create_rejects_bad_ttl(ttl):
    with pytest.raises(JobError) as caught:
        Message.create({"n": 1}, ttl=ttl)
    assert f"got {ttl}" in str(caught.value)
