"""Multi-node runtime tests on the in-process MemoryNetwork."""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator

import pytest
from helpers import wait_until

from ants import (
    BaseNode,
    Job,
    JobStatus,
    MemoryCommunication,
    MemoryNetwork,
    NodeConfig,
)

Behaviour = Callable[["RecordingNode", Job], None]


def succeed(node: RecordingNode, job: Job) -> None:
    job.set_result({"by": node.node_id, "payload": job.payload})


class Recorder:
    """Thread-safe log of do_jobs runs and completed_jobs reports of a cluster."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.runs: list[tuple[str, str, int, str | None]] = []
        """(node id, job id, attempt, error the job carried in)."""
        self.reports: list[tuple[str, str, JobStatus]] = []

    def run_counts(self) -> Counter:
        with self.lock:
            return Counter(job_id for _, job_id, _, _ in self.runs)

    def runs_of(self, job_id: str) -> list[tuple[str, str, int, str | None]]:
        with self.lock:
            return [run for run in self.runs if run[1] == job_id]

    def reports_by(self, node_id: str) -> list[tuple[str, JobStatus]]:
        with self.lock:
            return [
                (job_id, status)
                for node, job_id, status in self.reports
                if node == node_id
            ]


class RecordingNode(BaseNode):
    """A node that adds the jobs it is given and logs what it runs and learns."""

    def __init__(self, config, communication, *, node_id, recorder) -> None:
        super().__init__(config, communication, node_id=node_id)
        self.recorder = recorder
        self.jobs_to_add: list[Job] = []
        self.behaviour: Behaviour = succeed

    def add_jobs(self) -> list[Job]:
        return self.jobs_to_add

    def do_jobs(self, my_assigned_jobs: list[Job]) -> None:
        for job in my_assigned_jobs:
            with self.recorder.lock:
                self.recorder.runs.append(
                    (self.node_id, job.id, job.attempt, job.error)
                )
            self.behaviour(self, job)

    def completed_jobs(self, done_jobs: list[Job]) -> None:
        with self.recorder.lock:
            for job in done_jobs:
                self.recorder.reports.append((self.node_id, job.id, job.status))


class MemoryCluster:
    """Nodes on one seeded MemoryNetwork, each bootstrapping through node-0."""

    def __init__(self, count: int, seed: int = 0, **config_overrides) -> None:
        self.network = MemoryNetwork(seed)
        self.recorder = Recorder()
        self.nodes: list[RecordingNode] = []
        for index in range(count):
            communication = MemoryCommunication(
                self.network, f"node-{index}", bootstrap=["node-0"]
            )
            node = RecordingNode(
                NodeConfig.local(**config_overrides),
                communication,
                node_id=f"{index + 1:016x}",
                recorder=self.recorder,
            )
            self.nodes.append(node)

    def start(self) -> None:
        for node in self.nodes:
            node.start()
        wait_until(
            self.all_connected, timeout=10, message="every node to see every peer"
        )

    def shutdown(self) -> None:
        for node in self.nodes:
            node.shutdown()

    def all_connected(self, nodes: list[RecordingNode] | None = None) -> bool:
        nodes = nodes or self.nodes
        return all(alive_peers(node) >= len(nodes) - 1 for node in nodes)

    def statuses(self, node: RecordingNode) -> Counter:
        return Counter(record.status for record in node.state.records())

    def all_terminal(
        self, count: int, nodes: list[RecordingNode] | None = None
    ) -> bool:
        for node in nodes or self.nodes:
            records = node.state.records()
            if len(records) != count or not all(r.is_terminal for r in records):
                return False
        return True

    def describe(self) -> str:
        return "; ".join(
            f"{node.node_id}: {dict(self.statuses(node))}" for node in self.nodes
        )


def alive_peers(node: BaseNode) -> int:
    return sum(
        1 for m in node.communication.members() if not m.is_self and m.state == "alive"
    )


def member_state(node: BaseNode, node_id: str) -> str | None:
    for member in node.communication.members():
        if member.node_id == node_id:
            return member.state
    return None


def make_jobs(count: int, name: str = "work") -> list[Job]:
    return [Job(name, {"n": n}) for n in range(count)]


@pytest.fixture
def make_cluster() -> Iterator[Callable[..., MemoryCluster]]:
    clusters: list[MemoryCluster] = []

    def make(count: int, seed: int = 0, **config_overrides) -> MemoryCluster:
        cluster = MemoryCluster(count, seed, **config_overrides)
        clusters.append(cluster)
        return cluster

    yield make
    for cluster in clusters:
        cluster.shutdown()


# Spreading and running once


def test_cluster_jobs_run_once(make_cluster):
    cluster = make_cluster(3, seed=1)
    cluster.start()
    jobs = make_jobs(30)
    cluster.nodes[0].jobs_to_add = jobs

    wait_until(lambda: cluster.all_terminal(30), timeout=20, message=cluster.describe)

    counts = cluster.recorder.run_counts()
    assert sorted(counts) == sorted(job.id for job in jobs)
    assert set(counts.values()) == {1}


def take_50_ms(node: RecordingNode, job: Job) -> None:
    time.sleep(0.05)
    job.set_result({"n": job.payload["n"]})


def test_cluster_jobs_spread_over_nodes(make_cluster):
    cluster = make_cluster(3, seed=1)
    for node in cluster.nodes:
        node.behaviour = take_50_ms
    cluster.start()
    cluster.nodes[0].jobs_to_add = make_jobs(30)

    wait_until(lambda: cluster.all_terminal(30), timeout=20, message=cluster.describe)

    runners = Counter(node_id for node_id, _, _, _ in cluster.recorder.runs)
    for node in cluster.nodes:
        assert runners[node.node_id] >= 1, f"node {node.node_id} ran no job"


def test_cluster_slow_jobs_share_evenly(make_cluster):
    cluster = make_cluster(3, seed=1)
    for node in cluster.nodes:
        node.behaviour = take_50_ms
    cluster.start()
    cluster.nodes[0].jobs_to_add = make_jobs(30)

    wait_until(lambda: cluster.all_terminal(30), timeout=20, message=cluster.describe)

    runners = Counter(node_id for node_id, _, _, _ in cluster.recorder.runs)
    for node in cluster.nodes:
        assert runners[node.node_id] <= 15, f"node {node.node_id} ran over half"


def test_cluster_records_converge(make_cluster):
    cluster = make_cluster(3, seed=2)
    cluster.start()
    cluster.nodes[1].jobs_to_add = make_jobs(20)

    wait_until(lambda: cluster.all_terminal(20), timeout=20, message=cluster.describe)

    first = cluster.nodes[0].state.jobs
    for node in cluster.nodes[1:]:
        assert node.state.jobs == first
    for record in first.values():
        assert record.status is JobStatus.DONE
        assert record.result == {"by": record.owner, "payload": record.payload}


def test_cluster_duplicate_adds_run_once(make_cluster):
    cluster = make_cluster(3, seed=3)
    cluster.start()
    for node in cluster.nodes:
        node.jobs_to_add = make_jobs(30)

    wait_until(lambda: cluster.all_terminal(30), timeout=20, message=cluster.describe)

    assert set(cluster.recorder.run_counts().values()) == {1}


# Failures and retries


def test_do_jobs_exception_requeues_then_fails(make_cluster):
    cluster = make_cluster(2, seed=4)

    def explode(node: RecordingNode, job: Job) -> None:
        raise RuntimeError(f"boom on attempt {job.attempt}")

    for node in cluster.nodes:
        node.behaviour = explode
    cluster.start()
    job = Job("explode", {"n": 1})
    cluster.nodes[0].jobs_to_add = [job]

    wait_until(lambda: cluster.all_terminal(1), timeout=20, message=cluster.describe)

    for node in cluster.nodes:
        record = node.state.get(job.id)
        assert record.status is JobStatus.FAILED
        assert record.attempt == 2
        assert "RuntimeError: boom on attempt 2" in record.error
    runs = cluster.recorder.runs_of(job.id)
    assert [attempt for _, _, attempt, _ in runs] == [0, 1, 2]
    carried_errors = [error for _, _, _, error in runs]
    assert carried_errors[0] is None
    assert "RuntimeError: boom on attempt 0" in carried_errors[1]
    assert "RuntimeError: boom on attempt 1" in carried_errors[2]


def test_do_jobs_fails_twice_then_succeeds(make_cluster):
    cluster = make_cluster(2, seed=5)
    failures: Counter = Counter()

    def flaky(node: RecordingNode, job: Job) -> None:
        if failures[job.id] < 2:
            failures[job.id] += 1
            raise ConnectionError("flaky upstream")
        job.set_result({"attempt": job.attempt})

    for node in cluster.nodes:
        node.behaviour = flaky
    cluster.start()
    job = Job("flaky", {"n": 1})
    cluster.nodes[1].jobs_to_add = [job]

    wait_until(lambda: cluster.all_terminal(1), timeout=20, message=cluster.describe)

    for node in cluster.nodes:
        record = node.state.get(job.id)
        assert record.status is JobStatus.DONE
        assert record.attempt == 2
        assert record.result == {"attempt": 2}
    assert len(cluster.recorder.runs_of(job.id)) == 3


def test_do_jobs_exception_spares_finished_jobs(make_cluster):
    cluster = make_cluster(1, seed=6)
    first, second = Job("batch", {"n": 1}), Job("batch", {"n": 2})
    node = cluster.nodes[0]

    def finish_first_then_raise(node: RecordingNode, job: Job) -> None:
        if job.id == first.id:
            job.set_result({"ok": True})
        else:
            raise ValueError("second job broke the batch")

    node.behaviour = finish_first_then_raise
    cluster.start()
    node.jobs_to_add = [first, second]

    wait_until(lambda: cluster.all_terminal(2), timeout=20, message=cluster.describe)

    assert node.state.get(first.id).status is JobStatus.DONE
    assert node.state.get(first.id).attempt == 0
    assert node.state.get(second.id).status is JobStatus.FAILED
    assert node.state.get(second.id).attempt == 2


def test_job_max_attempts_one_fails_at_once(make_cluster):
    cluster = make_cluster(1, seed=7)
    node = cluster.nodes[0]
    node.behaviour = lambda node, job: job.set_error("permanent")
    cluster.start()
    job = Job("once", None, max_attempts=1)
    node.jobs_to_add = [job]

    wait_until(lambda: cluster.all_terminal(1), timeout=10, message=cluster.describe)

    record = node.state.get(job.id)
    assert record.status is JobStatus.FAILED
    assert record.attempt == 0
    assert record.error == "permanent"
    assert len(cluster.recorder.runs_of(job.id)) == 1


def test_do_jobs_without_outcome_fails_attempt(make_cluster):
    cluster = make_cluster(1, seed=8)
    node = cluster.nodes[0]
    node.behaviour = lambda node, job: None
    cluster.start()
    job = Job("forgotten", None, max_attempts=1)
    node.jobs_to_add = [job]

    wait_until(lambda: cluster.all_terminal(1), timeout=10, message=cluster.describe)

    record = node.state.get(job.id)
    assert record.status is JobStatus.FAILED
    assert "without calling set_result() or set_error()" in record.error


def test_job_timeout_requeues_stuck_attempt(make_cluster):
    cluster = make_cluster(1, seed=9)
    node = cluster.nodes[0]
    release = threading.Event()

    def stuck_first_time(node: RecordingNode, job: Job) -> None:
        if job.attempt == 0:
            release.wait(20)
        job.set_result({"attempt": job.attempt})

    node.behaviour = stuck_first_time
    cluster.start()
    job = Job("slow", None, timeout=0.5)
    node.jobs_to_add = [job]
    try:
        wait_until(
            lambda: cluster.all_terminal(1), timeout=15, message=cluster.describe
        )
    finally:
        release.set()

    record = node.state.get(job.id)
    assert record.status is JobStatus.DONE
    assert record.attempt == 1
    assert "timed out after 0.5s (attempt 1)" in record.error


def test_job_timeout_excludes_queue_wait(make_cluster):
    cluster = make_cluster(1, seed=10)
    node = cluster.nodes[0]

    def take_most_of_timeout(node: RecordingNode, job: Job) -> None:
        time.sleep(0.7)
        job.set_result({"attempt": job.attempt})

    node.behaviour = take_most_of_timeout
    cluster.start()
    # One worker runs the jobs one after another, so the later ones end more
    # than their timeout after their claim settled, but each runs for less.
    jobs = [Job("queued", {"n": n}, timeout=1.0) for n in range(3)]
    node.jobs_to_add = jobs

    wait_until(lambda: cluster.all_terminal(3), timeout=20, message=cluster.describe)

    for job in jobs:
        record = node.state.get(job.id)
        assert record.status is JobStatus.DONE
        assert record.attempt == 0
        assert record.error is None
    assert cluster.recorder.run_counts() == Counter({job.id: 1 for job in jobs})


def test_job_requeued_while_queued_skipped(make_cluster):
    cluster = make_cluster(1, seed=11)
    node = cluster.nodes[0]
    blocker, queued = Job("blocker", None), Job("queued", None, timeout=30.0)
    entered, release = threading.Event(), threading.Event()

    def block_first(node: RecordingNode, job: Job) -> None:
        if job.id == blocker.id:
            entered.set()
            release.wait(20)
        job.set_result({"attempt": job.attempt})

    node.behaviour = block_first
    cluster.start()
    node.jobs_to_add = [blocker]
    try:
        wait_until(entered.is_set, timeout=10, message="the blocking job to start")
        node.jobs_to_add = [blocker, queued]
        # The only worker is busy, so the job waits in the work queue.
        wait_until(
            lambda: node.runtime._running.get(queued.id) == 0,
            timeout=10,
            message="the second job to be handed to the workers",
        )
        node.runtime.requeue_job(queued.id).result(timeout=5)
    finally:
        release.set()

    wait_until(lambda: cluster.all_terminal(2), timeout=20, message=cluster.describe)

    record = node.state.get(queued.id)
    assert record.status is JobStatus.DONE
    assert record.attempt == 1
    attempts = [attempt for _, _, attempt, _ in cluster.recorder.runs_of(queued.id)]
    assert attempts == [1]


# Reporting finished jobs


def test_completed_jobs_once_per_job_per_node(make_cluster):
    cluster = make_cluster(3, seed=10)

    def fail_odd(node: RecordingNode, job: Job) -> None:
        if job.payload["n"] % 2:
            job.set_error("odd")
        else:
            job.set_result({"n": job.payload["n"]})

    for node in cluster.nodes:
        node.behaviour = fail_odd
    cluster.start()
    jobs = [Job("report", {"n": n}, max_attempts=1) for n in range(20)]
    cluster.nodes[2].jobs_to_add = jobs

    wait_until(lambda: cluster.all_terminal(20), timeout=20, message=cluster.describe)
    beats = {node.node_id: node.runtime.beat for node in cluster.nodes}
    wait_until(
        lambda: all(
            node.runtime.beat >= beats[node.node_id] + 5 for node in cluster.nodes
        ),
        timeout=10,
        message="five more beats on every node",
    )

    expected = {
        job.id: JobStatus.FAILED if job.payload["n"] % 2 else JobStatus.DONE
        for job in jobs
    }
    for node in cluster.nodes:
        reports = cluster.recorder.reports_by(node.node_id)
        counts = Counter(job_id for job_id, _ in reports)
        assert set(counts) == set(expected), f"node {node.node_id} missed reports"
        assert set(counts.values()) == {1}, f"node {node.node_id} reported a job twice"
        assert dict(reports) == expected


# Hooks that raise


class FaultyNode(RecordingNode):
    def add_jobs(self) -> list[Job]:
        raise ValueError("add_jobs is broken")

    def process_messages(self, messages) -> None:
        raise KeyError("process_messages is broken")


def test_raising_hook_logged_node_keeps_beating(caplog):
    caplog.set_level(logging.WARNING, logger="ants")
    network = MemoryNetwork(11)
    node = FaultyNode(
        NodeConfig.local(),
        MemoryCommunication(network, "node-0"),
        node_id="00000000000000f1",
        recorder=Recorder(),
    )
    node.start()
    try:
        wait_until(lambda: node.runtime.beat >= 3, timeout=10, message="three beats")
        beat = node.runtime.beat
        wait_until(
            lambda: node.runtime.beat >= beat + 10, timeout=10, message="ten more beats"
        )
        job = Job("manual", {"n": 1})
        node.add_job(job).result(timeout=5)
        wait_until(
            lambda: node.state.get(job.id).status is JobStatus.DONE,
            timeout=10,
            message="the manual job to finish",
        )
    finally:
        node.shutdown()

    hook_logs = [r for r in caplog.records if r.name == "ants.node.runtime"]
    add_jobs_logs = [
        r for r in hook_logs if "hook add_jobs of FaultyNode raised" in r.getMessage()
    ]
    process_logs = [
        r
        for r in hook_logs
        if "hook process_messages of FaultyNode raised" in r.getMessage()
    ]
    assert len(add_jobs_logs) == 1
    assert len(process_logs) == 1
    assert add_jobs_logs[0].levelno == logging.ERROR
    assert "ValueError: add_jobs is broken" in caplog.text
    assert "the node keeps running" in add_jobs_logs[0].getMessage()


def test_non_plain_payload_in_add_jobs_logged(make_cluster, caplog):
    caplog.set_level(logging.WARNING, logger="ants")
    cluster = make_cluster(1, seed=12)
    node = cluster.nodes[0]

    class BadPayloadNode(RecordingNode):
        def add_jobs(self) -> list[Job]:
            return [Job("bad", {"when": {1, 2}})]

    node.__class__ = BadPayloadNode
    cluster.start()
    beat = node.runtime.beat
    wait_until(
        lambda: node.runtime.beat >= beat + 3, timeout=10, message="three more beats"
    )

    assert "payload['when'] is a builtins.set" in caplog.text
    assert len(node.state.jobs) == 0


# Messages


def test_message_reaches_every_node(make_cluster):
    cluster = make_cluster(3, seed=13)
    seen: dict[str, list] = {node.node_id: [] for node in cluster.nodes}

    class ListeningNode(RecordingNode):
        def process_messages(self, messages) -> None:
            seen[self.node_id].extend(message.body for message in messages)

    for node in cluster.nodes:
        node.__class__ = ListeningNode
    cluster.start()
    cluster.nodes[0].send_message({"hello": "cluster"}, ttl=30).result(timeout=5)

    wait_until(
        lambda: all({"hello": "cluster"} in bodies for bodies in seen.values()),
        timeout=10,
        message="the message on every node",
    )


def test_message_expires_on_every_node(make_cluster):
    cluster = make_cluster(3, seed=16)
    latest: dict[str, list] = {node.node_id: [] for node in cluster.nodes}
    ever_seen: set[str] = set()

    class ListeningNode(RecordingNode):
        def process_messages(self, messages) -> None:
            latest[self.node_id] = [message.body for message in messages]
            if {"short": "lived"} in latest[self.node_id]:
                ever_seen.add(self.node_id)

    for node in cluster.nodes:
        node.__class__ = ListeningNode
    cluster.start()
    cluster.nodes[1].send_message({"short": "lived"}, ttl=1.0).result(timeout=5)

    wait_until(
        lambda: len(ever_seen) == 3, timeout=10, message="the message on every node"
    )
    wait_until(
        lambda: all(not any(n.state.messages) for n in cluster.nodes),
        timeout=10,
        message="the expired message purged on every node",
    )
    for node in cluster.nodes:
        assert {"short": "lived"} not in latest[node.node_id]


# Partitions and crashes


def test_isolated_node_rejoins_after_heal(make_cluster):
    cluster = make_cluster(3, seed=14)
    cluster.start()
    first, _, isolated = cluster.nodes

    cluster.network.isolate("node-2")
    wait_until(
        lambda: member_state(first, isolated.node_id) == "dead",
        timeout=10,
        message="node-0 to see node-2 dead",
    )
    wait_until(
        lambda: member_state(isolated, first.node_id) == "dead",
        timeout=10,
        message="node-2 to see node-0 dead",
    )
    majority_jobs = make_jobs(10, "majority")
    minority_jobs = make_jobs(5, "minority")
    first.jobs_to_add = majority_jobs
    isolated.jobs_to_add = minority_jobs
    wait_until(
        lambda: (
            cluster.all_terminal(10, cluster.nodes[:2])
            and cluster.all_terminal(5, [isolated])
        ),
        timeout=20,
        message=cluster.describe,
    )

    cluster.network.heal()
    wait_until(cluster.all_connected, timeout=15, message="node-2 to rejoin")
    wait_until(lambda: cluster.all_terminal(15), timeout=15, message=cluster.describe)

    for node in cluster.nodes[1:]:
        assert node.state.jobs == first.state.jobs
    assert set(cluster.recorder.run_counts().values()) == {1}


def test_crashed_node_jobs_finish_elsewhere(make_cluster):
    cluster = make_cluster(3, seed=15)
    victim, *survivors = cluster.nodes
    gate = threading.Event()
    entered = threading.Event()

    running: list[str] = []

    def hang(node: RecordingNode, job: Job) -> None:
        running.append(job.id)
        entered.set()
        gate.wait(30)

    victim.behaviour = hang
    cluster.start()
    # The creating node claims its own jobs first, so the victim owns some.
    victim.jobs_to_add = make_jobs(30, "crash")
    try:
        wait_until(entered.is_set, timeout=15, message="the victim to start a job")
        owned = {
            record.id
            for record in survivors[0].state.records()
            if record.status is JobStatus.ASSIGNED and record.owner == victim.node_id
        }
        victim.communication.crash()
        victim.runtime.shutdown()

        wait_until(
            lambda: cluster.all_terminal(30, survivors),
            timeout=20,
            message=cluster.describe,
        )
    finally:
        gate.set()

    assert running[0] in owned
    survivor_ids = {node.node_id for node in survivors}
    for job_id in owned:
        for node in survivors:
            record = node.state.get(job_id)
            assert record.status is JobStatus.DONE
            assert record.owner in survivor_ids
            assert record.attempt == 1
        reruns = [
            run for run in cluster.recorder.runs_of(job_id) if run[0] in survivor_ids
        ]
        assert len(reruns) == 1
    for node in survivors:
        assert member_state(node, victim.node_id) == "dead"


def test_invalid_result_fails_only_its_job(make_cluster):
    cluster = make_cluster(1, seed=6, max_attempts=1)

    def odd_results_invalid(node: RecordingNode, job: Job) -> None:
        if job.payload["n"] % 2:
            job.set_result({"when": object()})
        else:
            job.set_result({"n": job.payload["n"]})

    node = cluster.nodes[0]
    node.behaviour = odd_results_invalid
    jobs = [Job("mixed", {"n": n}) for n in range(4)]
    node.jobs_to_add = jobs
    cluster.start()

    wait_until(lambda: cluster.all_terminal(4), timeout=20, message=cluster.describe)

    for job in jobs:
        record = node.state.get(job.id)
        if job.payload["n"] % 2:
            assert record.status is JobStatus.FAILED
            assert record.error.startswith("invalid result: result['when'] is")
        else:
            assert record.status is JobStatus.DONE
            assert record.result == {"n": job.payload["n"]}
