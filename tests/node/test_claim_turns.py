"""Claim turns: who may claim a pending job when, and how long claims settle."""

from __future__ import annotations

import time

import pytest

from ants import BaseNode, Job, JobStatus, NodeConfig
from ants.comm.base import BaseCommunication
from ants.node.claims import SETTLE_BACKOFF_MAX, STEAL_SETTLE_FACTOR
from ants.node.job import rendezvous_rank
from ants.node.snapshot import MemberView

CANDIDATE_IDS = [f"{n:016x}" for n in range(1, 40)]


class FixedMembers(BaseCommunication):
    """A transport that sends nothing and reports a fixed set of live members."""

    def __init__(self, peer_ids: list[str]) -> None:
        self.peer_ids = peer_ids

    def pull(self):
        return []

    def broadcast(self, state) -> None:
        pass

    def members(self) -> list[MemberView]:
        return [
            MemberView(peer_id, f"127.0.0.1:{9000 + n}", "alive", 1, 0.0, None)
            for n, peer_id in enumerate(self.peer_ids)
        ]


class Worker(BaseNode):
    def do_jobs(self, my_assigned_jobs):
        for job in my_assigned_jobs:
            job.set_result({})


def ranked_ids(job: Job, count: int) -> list[str]:
    """Return `count` node ids ordered from highest to lowest rank for `job`."""
    ranked = sorted(CANDIDATE_IDS, key=lambda node_id: -rendezvous_rank(job.id, node_id, 0))
    return ranked[:count]


def make_node(job: Job, position: int, members: int = 3) -> BaseNode:
    """Build an unstarted node that ranks at `position` for `job` among `members` nodes."""
    order = ranked_ids(job, members)
    own_id = order[position]
    peers = [node_id for node_id in order if node_id != own_id]
    node = Worker(NodeConfig.local(), FixedMembers(peers), node_id=own_id)
    # The members have been known for long, so no turn restarts.
    node.runtime._ranked_among = frozenset(peers)
    node.runtime._ranked_since = -1e9
    return node


def add_pending(node: BaseNode, job: Job, age: float) -> None:
    """Put `job` into the node's state as a pending job created `age` seconds ago."""
    record = job.record.with_changes(
        status=JobStatus.PENDING, creator="0" * 16, created=time.time() - age
    )
    node.runtime.state.merge_job(record)


def claim(node: BaseNode) -> None:
    runtime = node.runtime
    runtime._update_settle_delay()
    runtime._claim_jobs()


def owner(node: BaseNode, job: Job) -> str | None:
    record = node.runtime.state.get(job.id)
    return record.owner if record.status is JobStatus.ASSIGNED else None


JOB = Job("turns", {"n": 1})


def test_first_ranked_node_claims_new_job():
    node = make_node(JOB, position=0)
    add_pending(node, JOB, age=0.0)

    claim(node)

    assert owner(node, JOB) == node.node_id


def test_second_ranked_node_waits_first_turn():
    node = make_node(JOB, position=1)
    add_pending(node, JOB, age=0.0)

    claim(node)

    assert owner(node, JOB) is None


def test_second_ranked_node_claims_in_its_turn():
    node = make_node(JOB, position=1)
    node.runtime._update_settle_delay()
    turn = node.runtime._turn_seconds
    add_pending(node, JOB, age=turn * 1.7)

    claim(node)

    assert owner(node, JOB) == node.node_id


def test_member_change_restarts_turns():
    node = make_node(JOB, position=1)
    node.runtime._update_settle_delay()
    add_pending(node, JOB, age=node.runtime._turn_seconds * 1.7)
    node.runtime._ranked_among = frozenset()

    claim(node)

    assert owner(node, JOB) is None


def test_turn_claim_settles_longer():
    node = make_node(JOB, position=1)
    node.runtime._update_settle_delay()
    add_pending(node, JOB, age=node.runtime._turn_seconds * 1.7)

    before = time.monotonic()
    claim(node)

    waits = node.runtime._claims[JOB.id].settles_at - before
    expected = node.runtime._settle_delay * STEAL_SETTLE_FACTOR
    assert waits == pytest.approx(expected, abs=0.05)


def test_late_sighting_joins_turns_in_progress():
    # The first node learns of the job only now. Turns of late nodes start half a
    # slot after creation, so at 1.7 slots the second node's turn is on.
    node = make_node(JOB, position=0)
    node.runtime._update_settle_delay()
    add_pending(node, JOB, age=node.runtime._turn_seconds * 1.7)

    claim(node)

    assert owner(node, JOB) is None


def test_future_creation_time_falls_back_to_sighting():
    node = make_node(JOB, position=0)
    add_pending(node, JOB, age=-3600.0)

    claim(node)

    assert owner(node, JOB) == node.node_id


def runtime_with_rival():
    """Return a node's runtime, its computed settle delay and a rival's claim of JOB."""
    node = make_node(JOB, position=0)
    runtime = node.runtime
    runtime._update_settle_delay()
    rival = JOB.record.with_changes(status=JobStatus.ASSIGNED, owner=CANDIDATE_IDS[-1])
    return runtime, runtime._settle_delay, rival


def test_rival_claim_doubles_settle_delay():
    runtime, base, rival = runtime_with_rival()

    runtime._note_rival(rival, ran=True)
    runtime._update_settle_delay()

    assert runtime._settle_delay == pytest.approx(2 * base, rel=0.01)


def test_rival_backoff_raised_once_per_delay():
    runtime, base, rival = runtime_with_rival()

    for _ in range(5):
        runtime._note_rival(rival, ran=False)
    runtime._update_settle_delay()

    assert runtime._settle_delay == pytest.approx(2 * base, rel=0.01)


def test_rival_backoff_is_capped():
    runtime, base, rival = runtime_with_rival()

    for _ in range(6):
        runtime._backoff_raised = -1e9
        runtime._note_rival(rival, ran=True)
    runtime._update_settle_delay()

    assert runtime._settle_delay == pytest.approx(SETTLE_BACKOFF_MAX * base, rel=0.01)


def test_rival_backoff_decays():
    runtime, base, rival = runtime_with_rival()
    runtime._note_rival(rival, ran=True)

    # Pretend a half-life passed since the stretch was last updated.
    runtime._backoff_checked -= 30.0
    runtime._update_settle_delay()

    assert runtime._settle_delay == pytest.approx(1.5 * base, rel=0.01)


def test_fixed_settle_delay_ignores_rivals():
    order = ranked_ids(JOB, 3)
    config = NodeConfig.local(settle_delay=0.5)
    node = Worker(config, FixedMembers(order[1:]), node_id=order[0])
    runtime = node.runtime
    rival = JOB.record.with_changes(status=JobStatus.ASSIGNED, owner=CANDIDATE_IDS[-1])

    runtime._note_rival(rival, ran=True)
    runtime._update_settle_delay()

    assert runtime._settle_delay == 0.5


def test_only_jobs_in_turn_are_offered():
    offered: list[list[str]] = []

    class Recording(Worker):
        def assign_to_jobs(self, pending_jobs):
            offered.append([job.id for job in pending_jobs])
            return pending_jobs

    jobs = [Job("turns", {"n": n}) for n in range(40)]
    own_id = CANDIDATE_IDS[0]
    peers = CANDIDATE_IDS[1:3]
    node = Recording(NodeConfig.local(), FixedMembers(peers), node_id=own_id)
    for job in jobs:
        add_pending(node, job, age=0.0)

    claim(node)

    first = {
        job.id for job in jobs
        if max([own_id, *peers], key=lambda i: rendezvous_rank(job.id, i, 0)) == own_id
    }
    assert len(offered) == 1
    assert set(offered[0]) == first
