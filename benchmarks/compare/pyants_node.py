"""A pyants 0.3.0 node for benchmarks/cluster.py, run by the pyants environment.

pyants 0.3.0 (PyPI) is the original ants. Its `BaseNode(initial_config,
initial_state, communication)` is a thread that loops every
`heartbeat_interval`. Each pass merges the states pulled from peers, reports
and then deletes done jobs, runs `do_jobs`, assigns to this node the pending
jobs `assign_to_jobs` returns, adds `add_jobs` and hands the whole state to
the transport. Its `SocketCommunication` thread, every `pull_interval`,
requests the peer list from a random peer, then the whole state as JSON
from a random peer, each over a new TCP connection.

Of two versions of a job, the merge keeps the one with the higher status.
Two claims of one job tie, because the tie-break is a sigmoid of the 64-bit
node id, which is 1.0 for every node, and then the version received wins.
pyants imports as `ants`, so it must never share an environment with this
repository's package.

This node reads the same control file and writes the same JSON lines as
benchmarks/nodes/cluster_node.py, for the commands probe, work and load.

    python pyants_node.py --port 9001 --bootstrap 127.0.0.1:9000 --interval 0.2
"""

import argparse
import json
import os
import signal
import threading
import time

from ants import BaseConfig, BaseNode, Job, State
from ants.communications import SocketCommunication

LOG_PATH = os.environ.get("ANTS_BENCH_LOG", "pyants-node.jsonl")
CONTROL_PATH = os.environ.get("ANTS_BENCH_CONTROL", "")
CREATES = os.environ.get("ANTS_BENCH_CREATE") == "1"
STATUS_EVERY = float(os.environ.get("ANTS_BENCH_STATUS", "1.0"))
TAG = os.environ.get("ANTS_BENCH_TAG", "")

_log_lock = threading.Lock()
_log_file = open(LOG_PATH, "a", buffering=1)


def _log(**fields):
    fields["t"] = time.time()
    line = json.dumps(fields)
    with _log_lock:
        _log_file.write(line + "\n")


class PyantsBenchNode(BaseNode):
    def __init__(self, config, state, communication):
        super().__init__(config, state, communication)
        self._control_offset = 0
        self._watched = {}
        self._targets = []
        self._to_create = []
        self._work_expected = 0
        self._work_done = set()
        self._work_reported = False
        self._last_status = 0.0
        _log(event="start", node=str(self.node_id), pid=os.getpid())

    # Hooks, called by pyants' beat loop in the order
    # completed_jobs, process_messages, do_jobs, assign_to_jobs, add_jobs, add_messages.

    def add_messages(self):
        return []

    def process_messages(self, messages):
        pass

    def add_jobs(self):
        self._read_control()
        now = time.time()
        self._check_probes()
        self._check_targets()
        if now - self._last_status >= STATUS_EVERY:
            self._last_status = now
            _log(
                event="status",
                node=str(self.node_id),
                jobs=len(self.state.jobs),
                alive=len(self.communication.peers),
                pull_thread_alive=self.communication.is_alive(),
            )
        jobs, self._to_create = self._to_create, []
        return jobs

    def assign_to_jobs(self, pending_jobs):
        return [job for job in pending_jobs if job.name == "work"]

    def do_jobs(self, my_assigned_jobs):
        for job in my_assigned_jobs:
            job.set_result({"by": str(self.node_id)})
            _log(event="ran", node=str(self.node_id), job=job.id)

    def completed_jobs(self, done_jobs):
        # pyants passes every done job of its state at each beat, then deletes it,
        # and a peer may send it again, so each id counts once.
        self._work_done.update(job.id for job in done_jobs if job.name == "work")
        if (
            self._work_expected
            and not self._work_reported
            and len(self._work_done) >= self._work_expected
        ):
            self._work_reported = True
            _log(event="work_done", node=str(self.node_id), count=len(self._work_done))

    # Commands

    def _read_control(self):
        if not CONTROL_PATH or not os.path.exists(CONTROL_PATH):
            return
        size = os.stat(CONTROL_PATH).st_size
        if size <= self._control_offset:
            return
        with open(CONTROL_PATH, "rb") as file:
            file.seek(self._control_offset)
            data = file.read(size - self._control_offset)
        complete = data.rfind(b"\n") + 1
        self._control_offset += complete
        for line in data[:complete].splitlines():
            if line.strip():
                self._apply(json.loads(line))

    def _apply(self, command):
        name = command["cmd"]
        if "expect_total" in command:
            self._targets.append(command["expect_total"])
        if name == "probe":
            job = Job("probe", {"k": command["k"], "tag": TAG})
            if CREATES:
                self._to_create.append(job)
                _log(event="created", kind="probe", k=command["k"], job=job.id)
            else:
                self._watched[job.id] = command["k"]
        elif name in ("work", "load"):
            if name == "work":
                self._work_expected += command["count"]
            if CREATES:
                start = command.get("start", 0)
                self._to_create.extend(
                    Job(name, {"i": index, "tag": TAG})
                    for index in range(start, start + command["count"])
                )
                _log(event="created", kind=name, count=command["count"])

    # Observations

    def _check_probes(self):
        for job_id, k in list(self._watched.items()):
            if job_id in self.state.jobs:
                del self._watched[job_id]
                _log(event="seen", node=str(self.node_id), k=k)

    def _check_targets(self):
        held = len(self.state.jobs)
        for target in list(self._targets):
            if held >= target:
                self._targets.remove(target)
                _log(event="reached", node=str(self.node_id), total=target, held=held)


def parse_address(text):
    host, port = text.rsplit(":", 1)
    return host, int(port)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True, help="TCP port to listen on")
    parser.add_argument(
        "--bootstrap",
        action="append",
        default=[],
        metavar="HOST:PORT",
        help="peer to pull from first; repeat for several",
    )
    parser.add_argument(
        "--interval",
        type=float,
        default=0.2,
        help="seconds between beats and between pulls (default: 0.2)",
    )
    args = parser.parse_args()

    communication = SocketCommunication(
        host="127.0.0.1",
        port=args.port,
        pull_interval=args.interval,
        bootstrap_nodes=[parse_address(text) for text in args.bootstrap],
    )
    node = PyantsBenchNode(
        BaseConfig(heartbeat_interval=args.interval), State(), communication
    )

    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    node.start()
    while not stop.wait(0.2):
        pass
    communication.shutdown()


if __name__ == "__main__":
    main()
