"""The jobs panel's index: both sort orders, filters, and the change journal."""

from __future__ import annotations

from dataclasses import replace

from ants.node.job import JobRecord, JobStatus
from ants.node.snapshot import JobChange, NodeSnapshot
from ants.tui.job_index import JobFilter, JobIndex, SortOrder

EVERY_STATUS = tuple(JobStatus)


def _record(number: int, status: JobStatus, **fields) -> JobRecord:
    fields.setdefault("created", 100.0 + number)
    if status.is_terminal:
        fields.setdefault("finished", 1000.0 + number)
    return JobRecord(
        id=f"{number:032x}",
        name=f"job-{number}",
        payload={"n": number},
        status=status,
        **fields,
    )


def _snapshot(records, changes=(), version=0, assigned_since=None) -> NodeSnapshot:
    return NodeSnapshot(
        version=1,
        node_id="self",
        node_class="Node",
        listen="",
        advertise="",
        beat=0,
        uptime=0.0,
        paused=False,
        observe=False,
        jobs=tuple(records),
        counts={},
        members=(),
        traffic=(),
        rates=(),
        events=(),
        jobs_version=version,
        job_changes=tuple(changes),
        assigned_since=assigned_since or {},
    )


def _names(index: JobIndex, order: SortOrder, statuses=EVERY_STATUS) -> list[str]:
    return [record.name for _, record in index.top(statuses, order, 100)]


RECORDS = [
    _record(1, JobStatus.DONE),
    _record(2, JobStatus.FAILED),
    _record(3, JobStatus.PENDING),
    _record(4, JobStatus.ASSIGNED, owner="n1"),
    _record(5, JobStatus.PENDING),
    _record(6, JobStatus.ASSIGNED, owner="n2"),
    _record(7, JobStatus.FAILED),
    _record(8, JobStatus.DONE),
]
SINCE = {RECORDS[3].id: 500.0, RECORDS[5].id: 400.0}
"""job-6 has been assigned longer than job-4."""


def test_problems_first_order():
    index = JobIndex()
    index.update(_snapshot(RECORDS, assigned_since=SINCE))

    assert _names(index, SortOrder.PROBLEMS) == [
        "job-7", "job-2",  # failed, newest first
        "job-6", "job-4",  # assigned, longest assigned first
        "job-3", "job-5",  # pending, longest waiting first
        "job-8", "job-1",  # done, newest first
    ]  # fmt: skip


def test_newest_first_order():
    index = JobIndex()
    index.update(_snapshot(RECORDS, assigned_since=SINCE))

    # Finished jobs by finish time (1000 + n), then the rest by creation time.
    assert _names(index, SortOrder.NEWEST) == [
        "job-8", "job-7", "job-2", "job-1", "job-6", "job-5", "job-4", "job-3",
    ]  # fmt: skip


def test_top_bounded_and_statuses_selected():
    index = JobIndex()
    index.update(_snapshot(RECORDS))

    assert len(index.top(EVERY_STATUS, SortOrder.PROBLEMS, 3)) == 3
    assert _names(index, SortOrder.NEWEST, (JobStatus.DONE,)) == ["job-8", "job-1"]
    assert index.count((JobStatus.PENDING, JobStatus.FAILED)) == 4
    assert index.total(JobStatus.DONE) == 2


def test_filter_text_owner_and_narrowing():
    index = JobIndex()
    index.update(_snapshot(RECORDS))

    index.set_filter(JobFilter("JOB-"))
    assert index.count(EVERY_STATUS) == 8
    index.set_filter(JobFilter('"n":7'))
    assert _names(index, SortOrder.PROBLEMS) == ["job-7"]
    index.set_filter(JobFilter(owner="n2"))
    assert _names(index, SortOrder.PROBLEMS) == ["job-6"]
    index.set_filter(JobFilter("job-4", owner="n2"))
    assert index.count(EVERY_STATUS) == 0
    assert index.total(JobStatus.ASSIGNED) == 2
    index.set_filter(JobFilter())
    assert index.count(EVERY_STATUS) == 8


def test_journal_applied_like_rebuild():
    base = RECORDS[:6]
    index = JobIndex()
    index.update(_snapshot(base, version=6))
    finished = _record(3, JobStatus.DONE, finished=2000.0)
    added = _record(9, JobStatus.PENDING)
    changes = [
        JobChange(7, finished.id, finished),
        JobChange(8, added.id, added),
        JobChange(9, RECORDS[0].id, None),
    ]
    after = [finished, added, *RECORDS[1:2], *RECORDS[3:6]]
    index.set_filter(JobFilter("job-"))

    changed = index.update(_snapshot(after, changes, version=9))

    fresh = JobIndex()
    fresh.update(_snapshot(after, version=9))
    fresh.set_filter(JobFilter("job-"))
    assert changed
    assert index.full_rebuilds == 1
    for order in SortOrder:
        assert _names(index, order) == _names(fresh, order)
    assert index.record(RECORDS[0].id) is None
    assert index.record(finished.id) is finished


def test_same_jobs_not_reindexed():
    index = JobIndex()
    snapshot = _snapshot(RECORDS)
    index.update(snapshot)
    generation = index.generation

    assert not index.update(replace(snapshot, version=2))
    assert index.generation == generation


def test_journal_gap_rebuilds():
    index = JobIndex()
    index.update(_snapshot(RECORDS[:2], version=2))
    later = _record(9, JobStatus.PENDING)
    # The journal starts at version 10, so changes 3 to 9 are lost.
    changes = [JobChange(10, later.id, later)]

    index.update(_snapshot([*RECORDS, later], changes, version=10))

    assert index.full_rebuilds == 2
    assert len(index) == 9


def test_journal_ahead_of_jobs_not_reindexed():
    index = JobIndex()
    later = _record(9, JobStatus.PENDING)
    # The journal was read after `jobs` and already has change 3.
    index.update(_snapshot(RECORDS[:2], [JobChange(3, later.id, later)], version=2))
    assert len(index) == 3

    changed = index.update(
        _snapshot([*RECORDS[:2], later], [JobChange(3, later.id, later)], version=3)
    )

    assert not changed
    assert index.full_rebuilds == 1
    assert len(index) == 3


def test_position_matches_order():
    index = JobIndex()
    index.update(_snapshot(RECORDS, assigned_since=SINCE))
    views = [
        EVERY_STATUS,
        (JobStatus.DONE,),
        (JobStatus.FAILED, JobStatus.PENDING),
        (JobStatus.ASSIGNED, JobStatus.DONE),
    ]
    for job_filter in (JobFilter(), JobFilter("job-"), JobFilter(owner="n2")):
        index.set_filter(job_filter)
        for statuses in views:
            for order in SortOrder:
                ids = [record.id for record in index.records(statuses, order)]
                for record in RECORDS:
                    expected = ids.index(record.id) if record.id in ids else None
                    assert index.position(record.id, statuses, order) == expected


def test_window_starts_at_position():
    index = JobIndex()
    index.update(_snapshot(RECORDS, assigned_since=SINCE))

    window = index.window(EVERY_STATUS, SortOrder.PROBLEMS, 2, 3)

    assert [record.name for _, record in window] == ["job-6", "job-4", "job-3"]
    assert index.window(EVERY_STATUS, SortOrder.NEWEST, 7, 3)[0][1].name == "job-3"
    assert index.window(EVERY_STATUS, SortOrder.NEWEST, 8, 3) == []
    assert index.position("absent", EVERY_STATUS, SortOrder.NEWEST) is None


def test_search_text_built_in_steps():
    index = JobIndex()
    index.update(_snapshot(RECORDS))
    assert not index.search_ready

    assert index.prepare_search(0) is False
    assert index.prepare_search(5) is False
    assert index.prepare_search(5) is True
    assert index.search_ready
    index.set_filter(JobFilter("job-7"))
    assert _names(index, SortOrder.NEWEST) == ["job-7"]


def test_text_filter_finishes_search_text():
    index = JobIndex()
    index.update(_snapshot(RECORDS))
    index.prepare_search(3)

    index.set_filter(JobFilter("job-"))

    assert index.search_ready
    assert len(_names(index, SortOrder.NEWEST)) == len(RECORDS)


def test_filter_spaced_json_finds_payload():
    index = JobIndex()
    index.update(_snapshot(RECORDS))

    index.set_filter(JobFilter('{"n": 7}'))
    assert _names(index, SortOrder.NEWEST) == ["job-7"]
    index.set_filter(JobFilter('"N":   7'))
    assert _names(index, SortOrder.NEWEST) == ["job-7"]
    index.set_filter(JobFilter("job-7 "))
    assert _names(index, SortOrder.NEWEST) == ["job-7"]
