"""An index of a node's jobs that the jobs panel filters and sorts cheaply.

The index keeps, per status, the jobs in sorted lists, and a filtered copy
of those lists while a filter is set. A new snapshot is applied from its
change journal (`NodeSnapshot.job_changes`), so a refresh costs time in
proportion to the jobs that changed and the rows shown, not to the jobs in
the state. Only the first snapshot, or one after more changes than the
journal keeps, is indexed from scratch.
"""

from __future__ import annotations

import bisect
import enum
import gc
import heapq
import itertools
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from ants.node.job import JobRecord, JobStatus
from ants.node.snapshot import NodeSnapshot
from ants.tui.formatting import compact_json


class SortOrder(enum.Enum):
    """The order of the jobs panel's rows; the value is shown in its title."""

    PROBLEMS = "problems first"
    """Failed (newest first), then assigned (longest assigned first), then
    pending (longest waiting first), then done (newest first)."""
    NEWEST = "newest first"
    """By finish time, or creation time for unfinished jobs, newest first."""


PROBLEM_ORDER = (
    JobStatus.FAILED,
    JobStatus.ASSIGNED,
    JobStatus.PENDING,
    JobStatus.DONE,
)
"""Statuses in the order SortOrder.PROBLEMS shows them."""

_PROBLEM_RANK = {status: rank for rank, status in enumerate(PROBLEM_ORDER)}


def record_time(record: JobRecord) -> float:
    """Return when a record last changed as far as it shows: finished, else created."""
    return record.finished if record.finished is not None else record.created


@dataclass(frozen=True)
class JobFilter:
    """A text to find in a job's name, payload, owner or id, and an owner to match.

    An empty text and a None owner match every job.
    """

    text: str = ""
    owner: str | None = None
    """A node id that the job's owner must equal."""

    @property
    def is_active(self) -> bool:
        return bool(self.text) or self.owner is not None

    def _needles(self) -> tuple[str, ...]:
        """Return the texts to look for: the filter text lower-cased, and the
        same without spaces, since payloads are searched as JSON without
        spaces and `{"n": 3}` should find `{"n":3}`."""
        text = self.text.lower()
        joined = "".join(text.split())
        return (text,) if joined == text or not joined else (text, joined)

    def matches(self, entry: _Entry) -> bool:
        """Return whether the filter keeps `entry`, whose search text must be built."""
        if self.owner is not None and entry.record.owner != self.owner:
            return False
        if not self.text:
            return True
        return any(needle in entry.search_text for needle in self._needles())

    def narrows(self, other: JobFilter) -> bool:
        """Return whether every job this filter keeps is also kept by `other`."""
        if other.owner is not None and other.owner != self.owner:
            return False
        return other.text.lower() in self.text.lower()

    def keep(self, items: list[Item]) -> list[Item]:
        """Return the items whose entries the filter keeps, in their order."""
        owner = self.owner
        if not self.text:
            if owner is None:
                return list(items)
            return [item for item in items if item[2].record.owner == owner]
        needles = self._needles()
        if len(needles) > 1:
            return [item for item in items if self.matches(item[2])]
        text = needles[0]
        # One comprehension per case: this runs over every job at each keystroke.
        if owner is None:
            return [item for item in items if text in item[2].search_text]
        return [
            item
            for item in items
            if item[2].record.owner == owner and text in item[2].search_text
        ]


class _Entry:
    """One indexed record with its sort keys and search text."""

    __slots__ = ("record", "newest_key", "problem_key", "search_text")

    def __init__(self, record: JobRecord, assigned_since: float | None) -> None:
        self.record = record
        self.newest_key = (-record_time(record), record.id)
        status = record.status
        if status is JobStatus.ASSIGNED:
            since = assigned_since if assigned_since is not None else record.created
            self.problem_key: tuple = (since, record.id)
        elif status is JobStatus.PENDING:
            self.problem_key = (record.created, record.id)
        else:
            self.problem_key = self.newest_key
        self.search_text = ""
        """Name, payload as JSON, owner and id, lower-cased. It stays empty
        until `add_search_text` is called, because encoding every payload
        is slow and only a text filter needs it."""

    def add_search_text(self) -> None:
        record = self.record
        self.search_text = "\n".join(
            (record.name, compact_json(record.payload), record.owner or "", record.id)
        ).lower()

    def key(self, order: SortOrder) -> tuple:
        """Return the row's place in `order`, comparable across statuses."""
        if order is SortOrder.NEWEST:
            return self.newest_key
        return (_PROBLEM_RANK[self.record.status], *self.problem_key)


Item = tuple[object, str, _Entry]
"""A sorted list's element: the two parts of a sort key, then the entry.
The key ends with the job id, so the entry itself is never compared."""


class _StatusLists:
    """The entries of one status, newest first and, for unfinished ones, in
    problem order too."""

    def __init__(self, status: JobStatus) -> None:
        self.status = status
        self.newest: list[Item] = []
        # Finished jobs show newest first in both orders, so they share one list.
        self.problems: list[Item] = [] if not status.is_terminal else self.newest

    def lists(self) -> tuple[list[Item], ...]:
        if self.problems is self.newest:
            return (self.newest,)
        return (self.newest, self.problems)

    def ordered(self, order: SortOrder) -> list[Item]:
        return self.newest if order is SortOrder.NEWEST else self.problems

    def insert(self, entry: _Entry) -> None:
        bisect.insort(self.newest, (*entry.newest_key, entry))
        if self.problems is not self.newest:
            bisect.insort(self.problems, (*entry.problem_key, entry))

    def remove(self, entry: _Entry) -> None:
        _remove(self.newest, (*entry.newest_key, entry))
        if self.problems is not self.newest:
            _remove(self.problems, (*entry.problem_key, entry))

    def fill(self, entries: Iterable[_Entry]) -> None:
        """Replace the contents with `entries`, sorting once."""
        entries = list(entries)
        self.newest[:] = sorted((*entry.newest_key, entry) for entry in entries)
        if self.problems is not self.newest:
            self.problems[:] = sorted((*entry.problem_key, entry) for entry in entries)

    def __len__(self) -> int:
        return len(self.newest)


def _remove(items: list[Item], item: Item) -> None:
    position = bisect.bisect_left(items, item)
    if position < len(items) and items[position][2] is item[2]:
        del items[position]


class JobIndex:
    """The jobs of the latest snapshot, sorted per status, with a filter applied."""

    def __init__(self) -> None:
        self._entries: dict[str, _Entry] = {}
        self._all = {status: _StatusLists(status) for status in JobStatus}
        self._matching = self._all
        """Per status, the entries the filter matches; `_all` while no filter is set."""
        self._filter = JobFilter()
        self._unsearched: list[_Entry] = []
        """Entries whose search text is still to be built, by `prepare_search`
        or before the first text filter applies."""
        self._jobs: tuple[JobRecord, ...] | None = None
        self._version = 0
        self.generation = 0
        """Rises whenever the indexed jobs or the filter change."""
        self.full_rebuilds = 0
        """Snapshots indexed from scratch rather than from the change journal."""

    # Updating

    def update(self, snapshot: NodeSnapshot) -> bool:
        """Bring the index up to `snapshot`; return whether anything changed."""
        if snapshot.jobs is self._jobs:
            return False
        changes = snapshot.job_changes
        start = -1
        if self._jobs is not None and changes:
            start = self._version + 1 - changes[0].version
        if 0 <= start < len(changes):
            self._apply_changes(changes[start:], snapshot.assigned_since)
        elif start == len(changes) and snapshot.jobs_version <= self._version:
            # The previous snapshot's journal went past its own `jobs`, and
            # this one copied those same changes: nothing is new.
            self._jobs = snapshot.jobs
            return False
        else:
            # No journal reaches back to the indexed version, or the snapshot
            # has other jobs without newer changes: it is not the next one.
            self._rebuild(snapshot)
        self._jobs = snapshot.jobs
        self.generation += 1
        return True

    def _rebuild(self, snapshot: NodeSnapshot) -> None:
        # Hundreds of thousands of new tuples would set off many full
        # garbage collections, each walking every object of the app.
        collecting = gc.isenabled()
        gc.disable()
        try:
            self._fill(snapshot)
        finally:
            if collecting:
                gc.enable()

    def _fill(self, snapshot: NodeSnapshot) -> None:
        since = snapshot.assigned_since
        self._entries = {
            record.id: _Entry(record, since.get(record.id)) for record in snapshot.jobs
        }
        # Encoding every payload takes about 3 ms per 1,000 jobs, so the
        # search text is built later, in steps or when a text filter needs it.
        self._unsearched = list(self._entries.values())
        if self._filter.text:
            self._finish_search_text()
        by_status: dict[JobStatus, list[_Entry]] = {status: [] for status in JobStatus}
        for entry in self._entries.values():
            by_status[entry.record.status].append(entry)
        for status, lists in self._all.items():
            lists.fill(by_status[status])
        self._version = snapshot.jobs_version
        self.full_rebuilds += 1
        if self._filter.is_active:
            self._refilter()
        # `jobs` may already hold changes after `jobs_version`; applying
        # them again leaves the same result.
        changes = snapshot.job_changes
        if changes and changes[-1].version > self._version:
            start = max(0, self._version + 1 - changes[0].version)
            self._apply_changes(changes[start:], since)

    def _apply_changes(self, changes: Iterable, since: Mapping[str, float]) -> None:
        filtering = self._filter.is_active
        for change in changes:
            old = self._entries.pop(change.job_id, None)
            if old is not None:
                self._all[old.record.status].remove(old)
                if filtering:
                    self._matching[old.record.status].remove(old)
            record = change.record
            if record is not None:
                entry = _Entry(record, since.get(record.id))
                entry.add_search_text()
                self._entries[record.id] = entry
                self._all[record.status].insert(entry)
                if filtering and self._filter.matches(entry):
                    self._matching[record.status].insert(entry)
            self._version = change.version

    # Filtering

    @property
    def filter(self) -> JobFilter:
        return self._filter

    def set_filter(self, job_filter: JobFilter) -> None:
        """Show only the jobs `job_filter` matches, from now on."""
        previous = self._filter
        if job_filter == previous:
            return
        self._filter = job_filter
        self.generation += 1
        if not job_filter.is_active:
            self._matching = self._all
            return
        if job_filter.text:
            self._finish_search_text()
        # While the user types on, each filter narrows the previous one, so
        # only the jobs that matched before are tested again.
        narrowing = previous.is_active and job_filter.narrows(previous)
        self._refilter(self._matching if narrowing else self._all)

    @property
    def search_ready(self) -> bool:
        """Whether every entry has its search text."""
        return not self._unsearched

    def prepare_search(self, count: int) -> bool:
        """Build the search text of up to `count` more entries; return True
        when every entry has its search text."""
        pending = self._unsearched
        if count <= 0 or not pending:
            return not pending
        for entry in pending[-count:]:
            entry.add_search_text()
        del pending[-count:]
        return not pending

    def _finish_search_text(self) -> None:
        self.prepare_search(len(self._unsearched))

    def _refilter(self, source: dict[JobStatus, _StatusLists] | None = None) -> None:
        source = self._all if source is None else source
        matching = {status: _StatusLists(status) for status in JobStatus}
        for status, lists in source.items():
            kept = matching[status]
            # Both lists are filtered in order, so nothing needs sorting again.
            kept.newest[:] = self._filter.keep(lists.newest)
            if lists.problems is not lists.newest:
                kept.problems[:] = self._filter.keep(lists.problems)
        self._matching = matching

    # Reading

    def __len__(self) -> int:
        return len(self._entries)

    def record(self, job_id: str) -> JobRecord | None:
        """Return the indexed record of a job, filtered out or not."""
        entry = self._entries.get(job_id)
        return entry.record if entry is not None else None

    def count(self, statuses: Iterable[JobStatus]) -> int:
        """Return how many jobs of `statuses` the filter matches."""
        return sum(len(self._matching[status]) for status in statuses)

    def total(self, status: JobStatus) -> int:
        """Return how many jobs of `status` there are, matched or not."""
        return len(self._all[status])

    def top(
        self, statuses: Iterable[JobStatus], order: SortOrder, limit: int
    ) -> list[tuple[tuple, JobRecord]]:
        """Return the first `limit` matching jobs of `statuses` in `order`,
        each with its sort key."""
        items = itertools.islice(self._ordered_items(statuses, order), limit)
        return [(item[2].key(order), item[2].record) for item in items]

    def window(
        self, statuses: Iterable[JobStatus], order: SortOrder, start: int, limit: int
    ) -> list[tuple[tuple, JobRecord]]:
        """Return at most `limit` matching jobs of `statuses` in `order`, from
        position `start` on, each with its sort key."""
        items = itertools.islice(
            self._ordered_items(statuses, order), start, start + limit
        )
        return [(item[2].key(order), item[2].record) for item in items]

    def position(
        self, job_id: str, statuses: Iterable[JobStatus], order: SortOrder
    ) -> int | None:
        """Return a job's position among the matching jobs of `statuses` in
        `order`, or None when the view does not contain it."""
        entry = self._entries.get(job_id)
        selected = set(statuses)
        if entry is None or entry.record.status not in selected:
            return None

        status = entry.record.status
        if order is SortOrder.NEWEST:
            key: tuple = entry.newest_key
            own = self._matching[status].newest
        else:
            key = entry.problem_key
            own = self._matching[status].problems
        # A key without its entry sorts before the item that carries it.
        place = bisect.bisect_left(own, key)
        if place >= len(own) or own[place][2] is not entry:
            return None

        if order is SortOrder.NEWEST:
            # The view merges the statuses' lists, so the jobs before this one
            # are those before its key in each list.
            return sum(
                bisect.bisect_left(self._matching[other].newest, key)
                for other in JobStatus
                if other in selected
            )

        before = 0
        for other in PROBLEM_ORDER:
            if other is status:
                break
            if other in selected:
                before += len(self._matching[other])
        return before + place

    def records(
        self, statuses: Iterable[JobStatus], order: SortOrder
    ) -> Iterator[JobRecord]:
        """Yield every matching job of `statuses` in `order`."""
        for item in self._ordered_items(statuses, order):
            yield item[2].record

    def _ordered_items(
        self, statuses: Iterable[JobStatus], order: SortOrder
    ) -> Iterator[Item]:
        selected = set(statuses)
        if order is SortOrder.NEWEST:
            lists = [
                self._matching[status].newest
                for status in JobStatus
                if status in selected
            ]
            return heapq.merge(*lists)
        return itertools.chain.from_iterable(
            self._matching[status].problems
            for status in PROBLEM_ORDER
            if status in selected
        )
