"""Property tests of State.merge: semilattice laws and the job order rules."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from ants.node.job import JobRecord, JobStatus, make_job_id, rendezvous_rank
from ants.node.state import Delta, State

JOB_IDS = [make_job_id("job", {"n": n}) for n in range(3)]
NODE_IDS = [
    "0000000000000001",
    "00000000000000aa",
    "1f00000000000000",
    "ffffffffffffffff",
]
NON_TERMINAL = [JobStatus.PENDING, JobStatus.ASSIGNED]
TERMINAL = [JobStatus.DONE, JobStatus.FAILED]

plain_results = st.one_of(
    st.none(),
    st.integers(-5, 5),
    st.text(max_size=4),
    st.dictionaries(st.text(max_size=3), st.integers(0, 3), max_size=2),
)


@st.composite
def records(draw, job_id=None, statuses=None, attempt=None, owner=None):
    """Draw a valid JobRecord, in which only a pending record may lack an owner."""
    if job_id is None:
        job_id = draw(st.sampled_from(JOB_IDS))
    status = draw(st.sampled_from(statuses or list(JobStatus)))
    if attempt is None:
        attempt = draw(st.integers(0, 4))
    if owner is None:
        if status is JobStatus.PENDING:
            owner = draw(st.one_of(st.none(), st.sampled_from(NODE_IDS)))
        else:
            owner = draw(st.sampled_from(NODE_IDS))
    result = draw(plain_results) if status is JobStatus.DONE else None
    error = draw(st.one_of(st.none(), st.text(max_size=5)))
    finished = draw(st.floats(0, 1e6, allow_nan=False)) if status in TERMINAL else None
    return JobRecord(
        id=job_id,
        name="job",
        payload={"id": job_id},
        status=status,
        attempt=attempt,
        owner=owner,
        result=result,
        error=error,
        max_attempts=draw(st.integers(1, 5)),
        creator=draw(st.sampled_from(NODE_IDS)),
        created=draw(st.floats(0, 1e6, allow_nan=False)),
        finished=finished,
    )


histories = st.lists(records(), max_size=12)


def state_of(*parts: State | list[JobRecord]) -> State:
    """Return a fresh State with every part merged in, in order."""
    state = State()
    for part in parts:
        state.merge(part)
    return state


def merged_record(*records_in_order: JobRecord) -> JobRecord:
    """Return the record a fresh State keeps after merging the records in order."""
    state = state_of(list(records_in_order))
    assert len(state.jobs) == 1
    return next(iter(state.jobs.values()))


# Semilattice laws


@given(histories, histories)
def test_merge_is_commutative(a, b):
    left = state_of(state_of(a), state_of(b))
    right = state_of(state_of(b), state_of(a))
    assert left.jobs == right.jobs


@given(histories, histories, histories)
def test_merge_is_associative(a, b, c):
    left = state_of(state_of(state_of(a), state_of(b)), state_of(c))
    right = state_of(state_of(a), state_of(state_of(b), state_of(c)))
    assert left.jobs == right.jobs


@given(histories)
def test_merge_is_idempotent(a):
    state = state_of(a)
    before = dict(state.jobs)
    changed = state.merge(state_of(a))
    assert state.jobs == before
    assert changed == []


@given(histories)
def test_merge_of_self_copy_changes_nothing(a):
    state = state_of(a)
    before = dict(state.jobs)
    state.merge(state.copy())
    assert state.jobs == before


@given(histories, histories)
def test_merge_result_is_upper_bound(a, b):
    joined = state_of(a, b)
    for part in (a, b):
        for record in part:
            kept = joined.jobs[record.id]
            assert kept == record or kept.wins_over(record)


@given(histories, histories)
def test_merge_delta_equals_merge_state(a, b):
    via_state = state_of(state_of(a), state_of(b))
    via_delta = state_of(a)
    via_delta.merge(Delta(jobs=tuple(b)))
    assert via_state.jobs == via_delta.jobs


# Order rule 1: a terminal record is never replaced by a non-terminal one


@given(
    records(job_id=JOB_IDS[0], statuses=TERMINAL),
    st.lists(records(job_id=JOB_IDS[0], statuses=NON_TERMINAL), min_size=1, max_size=6),
)
def test_terminal_beats_non_terminal_any_attempt(terminal, others):
    assert merged_record(terminal, *others) == terminal
    assert merged_record(*others, terminal) == terminal
    for other in others:
        assert terminal.wins_over(other)
        assert not other.wins_over(terminal)


@given(records(job_id=JOB_IDS[0], statuses=TERMINAL), st.integers(1, 1000))
def test_terminal_beats_requeue_higher_attempt(terminal, extra_attempts):
    requeued = terminal.with_changes(
        status=JobStatus.PENDING,
        attempt=terminal.attempt + extra_attempts,
        owner=None,
        finished=None,
    )
    assert merged_record(terminal, requeued) == terminal
    assert merged_record(requeued, terminal) == terminal


# Order rule 2: a higher attempt replaces a lower one among non-terminal records


@given(
    records(job_id=JOB_IDS[0], statuses=NON_TERMINAL),
    records(job_id=JOB_IDS[0], statuses=NON_TERMINAL),
)
def test_higher_attempt_wins_non_terminal(a, b):
    if a.attempt == b.attempt:
        b = b.with_changes(attempt=a.attempt + 1)
    lower, higher = sorted((a, b), key=lambda record: record.attempt)
    assert merged_record(lower, higher) == higher
    assert merged_record(higher, lower) == higher


def test_requeue_beats_stale_claim():
    claim = JobRecord(
        JOB_IDS[0], "job", None, JobStatus.ASSIGNED, attempt=0, owner=NODE_IDS[3]
    )
    requeue = claim.with_changes(status=JobStatus.PENDING, attempt=1, owner=None)
    assert merged_record(claim, requeue) == requeue
    assert merged_record(requeue, claim) == requeue


# Order rule 3: within one attempt, pending < assigned < terminal


@given(
    st.integers(0, 4),
    records(job_id=JOB_IDS[0], statuses=[JobStatus.PENDING], attempt=0),
    records(job_id=JOB_IDS[0], statuses=[JobStatus.ASSIGNED], attempt=0),
    records(job_id=JOB_IDS[0], statuses=TERMINAL, attempt=0),
)
def test_status_order_within_attempt(attempt, pending, assigned, terminal):
    pending = pending.with_changes(attempt=attempt)
    assigned = assigned.with_changes(attempt=attempt)
    terminal = terminal.with_changes(attempt=attempt)
    assert assigned.wins_over(pending)
    assert terminal.wins_over(assigned)
    assert terminal.wins_over(pending)
    assert merged_record(assigned, pending) == assigned
    assert merged_record(pending, assigned) == assigned
    assert merged_record(pending, terminal, assigned) == terminal


# Order rule 4: concurrent claims of one attempt go to the highest rendezvous rank


@given(
    st.sampled_from(JOB_IDS),
    st.integers(0, 4),
    st.lists(st.sampled_from(NODE_IDS), min_size=2, max_size=4, unique=True),
    st.randoms(use_true_random=False),
)
def test_claims_resolve_to_highest_rank(job_id, attempt, claimers, rng):
    base = JobRecord(job_id, "job", None, JobStatus.PENDING, attempt=attempt)
    claims = [
        base.with_changes(status=JobStatus.ASSIGNED, owner=node_id)
        for node_id in claimers
    ]
    expected = max(claimers, key=lambda node_id: rendezvous_rank(job_id, node_id, attempt))

    rng.shuffle(claims)
    assert merged_record(base, *claims).owner == expected
    assert merged_record(*reversed(claims)).owner == expected


def test_rendezvous_rank_spreads_jobs():
    job_ids = [make_job_id("spread", n) for n in range(300)]
    winners = [
        max(NODE_IDS, key=lambda node: rendezvous_rank(j, node)) for j in job_ids
    ]
    for node_id in NODE_IDS:
        assert winners.count(node_id) > 300 / len(NODE_IDS) / 2


# Order rule 5: the winner never depends on arrival order


@given(histories)
def test_merge_order_does_not_matter(history):
    results = []
    for seed in range(6):
        shuffled = list(history)
        random.Random(seed).shuffle(shuffled)
        results.append(state_of(shuffled).jobs)
    for result in results[1:]:
        assert result == results[0]


@given(histories)
def test_merge_one_by_one_matches_batch(history):
    one_by_one = State()
    for record in reversed(history):
        one_by_one.merge_job(record)
    assert one_by_one.jobs == state_of(history).jobs


@given(records(job_id=JOB_IDS[0], statuses=[JobStatus.DONE]))
def test_equal_prefix_tie_is_deterministic(record):
    twin = record.with_changes(result={"other": True})
    assert twin.wins_over(record) != record.wins_over(twin)
    assert merged_record(record, twin) == merged_record(twin, record)
