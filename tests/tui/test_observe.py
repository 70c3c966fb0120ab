"""An observer node (`--observe`) beside a working node, with the dashboard on
the observer: it gossips and shows every job but never claims or runs one."""

from __future__ import annotations

from ants.node.base import BaseNode
from ants.node.job import JobStatus
from ants.tui.app import make_app
from ants.tui.widgets.node_header import NodeHeader

SIZE = (120, 40)
JOBS = 20


def _done_count(node: BaseNode) -> int:
    return node.snapshot().count(JobStatus.DONE)


def _alive_peers(node: BaseNode) -> set[str]:
    return {
        member.node_id
        for member in node.snapshot().members
        if not member.is_self and member.state == "alive"
    }


async def test_observer_never_claims_jobs(tmp_path, node_source, make_node, wait_until):
    node_file = tmp_path / "counting.py"
    node_file.write_text(node_source(jobs=JOBS))
    observer = make_node(node_file, observe=True)
    app = make_app(observer, reload=False)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.snapshot is not None, "a first snapshot")
        worker = make_node(node_file, bootstrap=[observer.communication.listen_address])
        worker.start()
        await wait_until(
            pilot,
            lambda: observer.node_id in _alive_peers(worker),
            "the worker to see the observer alive",
        )
        await wait_until(
            pilot,
            lambda: _done_count(worker) == JOBS,
            f"{JOBS} jobs done on the worker",
        )
        await wait_until(
            pilot,
            lambda: _done_count(observer) == JOBS,
            f"{JOBS} jobs done on the observer",
        )
        header = app.query_one(NodeHeader)
        await wait_until(
            pilot,
            lambda: f"{JOBS} done" in header.plain_text(),
            f"the header to count {JOBS} done",
        )
        assert "observing" in header.plain_text()
        assert observer.node_id in header.plain_text()

        observer_snapshot = observer.snapshot()
        worker_snapshot = worker.snapshot()
        assert observer_snapshot.observe
        assert not worker_snapshot.observe
        assert observer.node_id in _alive_peers(worker)
        assert worker.node_id in _alive_peers(observer)

        for snapshot in (observer_snapshot, worker_snapshot):
            assert len(snapshot.jobs) == JOBS
            assert {record.status for record in snapshot.jobs} == {JobStatus.DONE}
            assert {record.owner for record in snapshot.jobs} == {worker.node_id}
            assert {record.attempt for record in snapshot.jobs} == {0}

        # The observer took in pending jobs, so it had turns to claim them.
        seen_pending = 0
        for record in observer_snapshot.jobs:
            transitions = observer.job_history(record.id)
            owners = {transition.owner for transition in transitions}
            assert observer.node_id not in owners
            if any(t.status is JobStatus.PENDING for t in transitions):
                seen_pending += 1
        assert seen_pending > 0
        for record in worker_snapshot.jobs:
            owners = {transition.owner for transition in worker.job_history(record.id)}
            assert observer.node_id not in owners
        assert not any(
            event.kind == "job" and event.text.startswith("added")
            for event in observer_snapshot.events
        )
