"""A node for benchmarks: runs jobs that sleep, and logs every run and report.

Environment:
    ANTS_BENCH_LOG   JSON Lines file this node appends its runs and reports to.
    ANTS_BENCH_JOBS  number of jobs to create (only the node given ANTS_BENCH_CREATE=1).
    ANTS_BENCH_WORK  seconds each job sleeps (default 0.05).
"""

import json
import os
import threading
import time

from ants import BaseNode, Job

LOG_PATH = os.environ.get("ANTS_BENCH_LOG", "bench.jsonl")
JOB_COUNT = int(os.environ.get("ANTS_BENCH_JOBS", "0"))
CREATES = os.environ.get("ANTS_BENCH_CREATE") == "1"
WORK_SECONDS = float(os.environ.get("ANTS_BENCH_WORK", "0.05"))

_lock = threading.Lock()


def _log(**fields):
    fields["t"] = time.time()
    line = json.dumps(fields)
    with _lock, open(LOG_PATH, "a") as file:
        file.write(line + "\n")


class WorkNode(BaseNode):
    def on_start(self):
        _log(event="start", node=self.node_id)
        self._created = False

    def add_jobs(self):
        if not CREATES or self._created:
            return []
        self._created = True
        return [Job("work", {"index": index}) for index in range(JOB_COUNT)]

    def do_jobs(self, my_assigned_jobs):
        for job in my_assigned_jobs:
            _log(event="run", node=self.node_id, job=job.id, attempt=job.attempt)
            time.sleep(WORK_SECONDS)
            job.set_result({"by": self.node_id})
            _log(event="ran", node=self.node_id, job=job.id, attempt=job.attempt)

    def completed_jobs(self, done_jobs):
        for job in done_jobs:
            _log(event="done", node=self.node_id, job=job.id, status=job.status.name,
                 owner=job.owner)
