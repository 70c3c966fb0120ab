"""completed_jobs reports each finished job once per node, also across hot reloads."""

from __future__ import annotations

import time
from collections import Counter

from helpers import wait_until

from ants import BaseNode, Job, MemoryCommunication, MemoryNetwork, NodeConfig

REPORTS: Counter[str] = Counter()


class FirstVersion(BaseNode):
    def add_jobs(self):
        return [Job("first", {"n": n}) for n in range(10)]

    def do_jobs(self, my_assigned_jobs):
        for job in my_assigned_jobs:
            job.set_result({"version": 1})

    def completed_jobs(self, done_jobs):
        REPORTS.update(job.id for job in done_jobs)


class SecondVersion(FirstVersion):
    def add_jobs(self):
        return [Job("second", {"n": n}) for n in range(10)]

    def do_jobs(self, my_assigned_jobs):
        for job in my_assigned_jobs:
            job.set_result({"version": 2})


def test_reload_does_not_report_again():
    REPORTS.clear()
    node = FirstVersion(NodeConfig.local(), MemoryCommunication(MemoryNetwork(seed=31), "a"))
    node.start()
    try:
        assert wait_until(lambda: len(REPORTS) == 10, 10)
        node.runtime.reload(SecondVersion).result(timeout=5)
        assert type(node) is SecondVersion
        assert wait_until(lambda: len(REPORTS) == 20, 10)
        time.sleep(5 * node.config.heartbeat_interval)

        assert set(REPORTS.values()) == {1}
        results = {r.name: r.result for r in node.state.records()}
        assert results == {"first": {"version": 1}, "second": {"version": 2}}
    finally:
        node.shutdown()
