"""Three `ants run` processes gossiping over TCP on 127.0.0.1."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from helpers import (
    NodeProcess,
    ProcessStarter,
    read_json_lines,
    wait_for_listening,
    wait_until,
    write_node_file,
)

pytestmark = pytest.mark.slow

JOB_COUNT = 200
DEADLINE = 60.0


class ProcessCluster:
    """Three node processes, each logging its runs and reports to its own file."""

    def __init__(
        self, processes: ProcessStarter, folder: Path, creators: set[int]
    ) -> None:
        node_file = write_node_file(folder)
        self.logs = [folder / f"node-{index}.jsonl" for index in range(3)]
        self.nodes: list[NodeProcess] = []
        self.node_ids: list[str] = []
        bootstrap: list[str] = []
        for index in range(3):
            env = {
                "ANTS_TEST_LOG": str(self.logs[index]),
                "ANTS_TEST_JOBS": str(JOB_COUNT if index in creators else 0),
                "ANTS_TEST_PEERS": "2",
            }
            process = processes.start_node(
                node_file,
                "--port",
                "0",
                "--interval",
                "0.2",
                *bootstrap,
                env=env,
                name=f"node-{index}",
            )
            node_id, address = wait_for_listening(process)
            self.nodes.append(process)
            self.node_ids.append(node_id)
            if not bootstrap:
                bootstrap = ["--bootstrap", address]

    def events(self, index: int, kind: str) -> list[dict]:
        return [
            line for line in read_json_lines(self.logs[index]) if line["event"] == kind
        ]

    def done_counts(self) -> list[int]:
        return [
            len(
                {
                    e["job"]
                    for e in self.events(index, "completed")
                    if e["status"] == "DONE"
                }
            )
            for index in range(3)
        ]

    def all_done(self) -> bool:
        for process in self.nodes:
            if process.poll() is not None:
                raise AssertionError(
                    f"node {process.pid} exited early:\n{process.stderr()}"
                )
        return self.done_counts() == [JOB_COUNT] * 3

    def stop(self) -> list[int]:
        return [process.stop(timeout=10) for process in self.nodes]

    def check_once(self) -> None:
        """Assert each job ran once cluster-wide and was reported once per node."""
        runs = Counter(
            e["job"] for index in range(3) for e in self.events(index, "run")
        )
        assert len(runs) == JOB_COUNT
        duplicates = {job: count for job, count in runs.items() if count > 1}
        assert duplicates == {}, f"{len(duplicates)} job(s) ran more than once"
        for index in range(3):
            reports = Counter(e["job"] for e in self.events(index, "completed"))
            assert len(reports) == JOB_COUNT, f"node {index} missed reports"
            assert set(reports.values()) == {1}, f"node {index} reported a job twice"


def run_cluster(
    processes: ProcessStarter, folder: Path, creators: set[int]
) -> ProcessCluster:
    cluster = ProcessCluster(processes, folder, creators)
    wait_until(
        cluster.all_done,
        timeout=DEADLINE,
        interval=0.2,
        message=lambda: (
            f"{JOB_COUNT} done jobs on every node, have {cluster.done_counts()}"
        ),
    )
    assert cluster.stop() == [0, 0, 0]
    return cluster


def test_cluster_jobs_from_one_node_run_once(processes, tmp_path):
    cluster = run_cluster(processes, tmp_path, creators={0})
    cluster.check_once()


def test_cluster_duplicate_jobs_from_all_nodes_run_once(processes, tmp_path):
    cluster = run_cluster(processes, tmp_path, creators={0, 1, 2})
    cluster.check_once()
    runners = Counter(
        e["node"] for index in range(3) for e in cluster.events(index, "run")
    )
    assert set(runners) == set(cluster.node_ids)
