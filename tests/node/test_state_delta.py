"""State bookkeeping: the status index and delta sync through digests and changes_for."""

from __future__ import annotations

import random
from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from ants.node.job import JobRecord, JobStatus, Message, make_job_id
from ants.node.state import Delta, State

JOB_IDS = [make_job_id("delta", n) for n in range(6)]
OWNERS = ["00000000000000aa", "00000000000000bb"]


def record_for(
    job_id: str, status: JobStatus, attempt: int, owner_index: int
) -> JobRecord:
    owner = None if status is JobStatus.PENDING else OWNERS[owner_index]
    return JobRecord(
        id=job_id,
        name="delta",
        payload=None,
        status=status,
        attempt=attempt,
        owner=owner,
        max_attempts=5,
        finished=1.0 if status in (JobStatus.DONE, JobStatus.FAILED) else None,
    )


job_records = st.builds(
    record_for,
    st.sampled_from(JOB_IDS),
    st.sampled_from(list(JobStatus)),
    st.integers(0, 4),
    st.integers(0, 1),
)
operations = st.lists(
    st.one_of(
        st.tuples(st.just("merge"), job_records),
        st.tuples(st.just("remove"), st.sampled_from(JOB_IDS)),
        st.tuples(st.just("sync"), st.integers(1, 4)),
    ),
    max_size=40,
)


def sync(source: State, replica: State, limit: int) -> None:
    """Page what `replica` lacks from `source` into it, `limit` records at a time."""
    for _ in range(10_000):
        before = replica.digest()
        delta, more = source.changes_for(before, limit)
        assert len(delta) <= limit
        replica.merge(delta)
        after = replica.digest()
        assert all(after.get(origin, 0) >= version for origin, version in before.items())
        if not more:
            return
    raise AssertionError("changes_for never reported the end of the changes")


def assert_index_consistent(state: State) -> None:
    expected = Counter(record.status for record in state.jobs.values())
    counts = state.counts()
    for status in JobStatus:
        assert counts[status] == expected[status], status
        ids = {record.id for record in state.with_status(status)}
        assert ids == {r.id for r in state.jobs.values() if r.status is status}, status


@given(operations)
def test_status_index_matches_jobs(ops):
    state = State()
    for kind, argument in ops:
        if kind == "merge":
            state.merge_job(argument)
        elif kind == "remove":
            state.remove_job(argument)
        assert_index_consistent(state)


@given(st.lists(job_records, max_size=30), st.integers(1, 5))
def test_changes_for_empty_digest_copies_state(records, limit):
    source = State()
    source.merge(records)
    replica = State()

    sync(source, replica, limit)

    assert replica.jobs == source.jobs
    assert replica.digest() == source.digest()


@given(operations, st.integers(1, 4))
def test_incremental_sync_keeps_replica_current(ops, final_limit):
    source = State()
    replica = State()
    for kind, argument in ops:
        if kind == "merge":
            source.merge_job(argument)
        elif kind == "remove":
            source.remove_job(argument)
        else:
            sync(source, replica, argument)
    sync(source, replica, final_limit)

    # Removals are not gossiped, so the replica may keep records the source dropped.
    for job_id, record in source.jobs.items():
        kept = replica.jobs[job_id]
        assert kept == record or kept.wins_over(record)


@given(st.lists(job_records, max_size=20))
def test_changes_for_own_digest_is_empty(records):
    state = State()
    state.merge(records)
    delta, more = state.changes_for(state.digest(), 10)
    assert len(delta) == 0
    assert not more


def test_changes_for_after_many_rewrites():
    rng = random.Random(5)
    source = State()
    replica = State()
    attempts = dict.fromkeys(JOB_IDS, 0)
    for step in range(3000):
        job_id = rng.choice(JOB_IDS)
        attempts[job_id] += 1
        source.merge_job(record_for(job_id, JobStatus.PENDING, attempts[job_id], 0))
        if step % 97 == 0:
            sync(source, replica, rng.randint(1, 3))
    sync(source, replica, 2)

    assert replica.jobs == source.jobs
    fresh = State()
    sync(source, fresh, 1)
    assert fresh.jobs == source.jobs


def test_relayed_records_reach_third_replica():
    origin, relay, third = State(), State(), State()
    for job_id in JOB_IDS:
        origin.merge_job(record_for(job_id, JobStatus.PENDING, 0, 0))
    sync(origin, relay, 2)
    sync(relay, third, 2)

    assert third.jobs == origin.jobs
    assert third.digest() == origin.digest()
    delta, more = origin.changes_for(third.digest(), 100)
    assert len(delta) == 0


def test_changes_for_carries_messages():
    source = State()
    message = Message(sender=OWNERS[0], body={"hello": 1}, created=1.0, expires=9e9)
    source.merge_message(message)
    source.merge_job(record_for(JOB_IDS[0], JobStatus.PENDING, 0, 0))
    replica = State()

    sync(source, replica, 1)

    assert list(replica.messages) == [message.id]
    assert replica.jobs == source.jobs


def test_merge_message_is_idempotent():
    state = State()
    message = Message(sender=OWNERS[0], body=[1, 2], created=1.0, expires=2.0)
    assert state.merge_message(message)
    assert not state.merge_message(Message(OWNERS[0], [1, 2], 1.0, 2.0))
    assert len(state.messages) == 1


def test_merge_delta_returns_winners_only():
    state = State()
    claim = record_for(JOB_IDS[0], JobStatus.ASSIGNED, 0, 0)
    stale = record_for(JOB_IDS[0], JobStatus.PENDING, 0, 0)
    state.merge_job(claim)

    changed = state.merge(Delta(jobs=(stale, claim)))

    assert changed == []
    assert state.get(JOB_IDS[0]) == claim


def test_changes_for_limited_to_origins():
    own, relay = State(), State()
    for job_id in JOB_IDS[:3]:
        own.merge_job(record_for(job_id, JobStatus.PENDING, 0, 0))
    sync(own, relay, 2)
    for job_id in JOB_IDS[3:6]:
        relay.merge_job(record_for(job_id, JobStatus.PENDING, 0, 0))

    delta, more = relay.changes_for({}, 100, origins=(relay.origin,))

    assert sorted(record.id for record in delta.jobs) == sorted(JOB_IDS[3:6])
    assert set(delta.reach) == {relay.origin}
    assert not more


def test_purged_record_received_back_sent_once():
    source = State(origin="source/1")
    for job_id in JOB_IDS[:4]:
        source.merge_job(record_for(job_id, JobStatus.PENDING, 0, 0))
    replica = State(origin="replica/1")
    replica.merge(source.changes_for({}, 10)[0])

    replica.remove_job(JOB_IDS[0])
    replica.merge(source.changes_for({}, 10)[0])
    delta, more = replica.changes_for({}, 10)

    assert sorted(job.id for job in delta.jobs) == sorted(JOB_IDS[:4])
    assert not more


def test_changes_for_skips_released_versions():
    source = State(origin="source/1")
    records = [record_for(job_id, JobStatus.PENDING, 0, 0) for job_id in JOB_IDS[:6]]
    for record in records:
        source.merge_job(record)
    for record in records[:4]:
        source.merge_job(record_for(record.id, JobStatus.ASSIGNED, 0, 0))

    delta, more = source.changes_for({}, 3)
    assert len(delta.jobs) == 3
    assert more
    assert delta.reach == {"source/1": 7}

    rest, more = source.changes_for(delta.reach, 10)
    assert len(rest) == 3
    assert not more
    assert rest.reach == {"source/1": 10}
