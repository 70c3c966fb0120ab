"""BaseNode: the class a user subclasses to build a job system."""

from __future__ import annotations

import logging
import signal
import threading
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

from ants.node.config import NodeConfig
from ants.node.job import Job, Message
from ants.node.runtime import NodeRuntime

if TYPE_CHECKING:
    from ants.comm.base import BaseCommunication
    from ants.node.snapshot import JobTransition, NodeSnapshot
    from ants.node.state import State

logger = logging.getLogger(__name__)


class BaseNode:
    """A node of a decentralized job system. Override the hooks you need.

    Every beat the runtime calls `add_jobs`, offers pending jobs to
    `assign_to_jobs`, runs the jobs this node won in `do_jobs` (on a worker
    thread), and reports every finished job of the cluster once to
    `completed_jobs`. Hooks other than `do_jobs` run on the beat thread, so
    they should return quickly.
    """

    def __init__(
        self,
        config: NodeConfig | None = None,
        communication: BaseCommunication | None = None,
        *,
        node_id: str | None = None,
    ) -> None:
        if communication is None:
            from ants.comm.socket import SocketCommunication

            communication = SocketCommunication()
        self.config = config if config is not None else NodeConfig()
        self.communication = communication
        self.runtime = NodeRuntime(self, self.config, communication, node_id)

    # Hooks

    def add_jobs(self) -> list[Job]:
        """Return jobs to create. Returning a job that exists already is a no-op."""
        return []

    def assign_to_jobs(self, pending_jobs: list[Job]) -> list[Job]:
        """Return the pending jobs this node wants; by default all of them.

        Claims of one job by several nodes resolve to one owner everywhere,
        so wanting everything spreads the jobs evenly over the nodes. A node
        class that does not override `do_jobs` wants none.
        """
        if type(self).do_jobs is BaseNode.do_jobs:
            return []
        return pending_jobs

    def do_jobs(self, my_assigned_jobs: list[Job]) -> None:
        """Run the jobs this node owns; finish each with `set_result` or `set_error`.

        Runs on a worker thread. An exception fails every job of the list that
        was not finished yet, and each is retried until its attempts run out.
        A job with a timeout comes in a list of its own, and its timeout counts
        from this call.
        """
        for job in my_assigned_jobs:
            job.set_error(f"{type(self).__name__} does not override do_jobs")

    def completed_jobs(self, done_jobs: list[Job]) -> None:
        """Receive every job of the cluster that ended, done or failed, once each."""

    def add_messages(self) -> list[Message]:
        """Return messages to broadcast to every node until they expire."""
        return []

    def process_messages(self, messages: list[Message]) -> None:
        """Receive every message that has not expired, once per beat."""

    def on_start(self) -> None:
        """Run once on the beat thread before the first beat."""

    def on_stop(self) -> None:
        """Run once on the beat thread after the last beat."""

    def on_reload(self, old_class: type) -> None:
        """Run after a hot reload replaced `old_class` with this class."""

    # Control

    @property
    def node_id(self) -> str:
        return self.runtime.node_id

    @property
    def state(self) -> State:
        """The replicated state. Read it only; the runtime is its only writer."""
        return self.runtime.state

    def start(self) -> None:
        """Start the node in background threads and return."""
        self.runtime.start()

    def shutdown(self, timeout: float = 2.0) -> None:
        """Stop the node, telling peers it leaves, within about `timeout` seconds."""
        self.runtime.shutdown(timeout)

    def run(self) -> None:
        """Start the node and block until SIGINT or SIGTERM, then shut down."""
        stop = threading.Event()
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                signal.signal(signum, lambda *_: stop.set())
        self.start()
        try:
            while not stop.wait(0.2) and self.runtime.is_running:
                pass
        finally:
            self.shutdown()

    def snapshot(self) -> NodeSnapshot:
        return self.runtime.snapshot()

    def job_history(self, job_id: str) -> tuple[JobTransition, ...]:
        """Return a job's latest transitions as this node saw them, from any thread."""
        return self.runtime.job_history(job_id)

    def add_job(self, job: Job) -> Future:
        """Add a job from any thread; it is created on the next beat."""
        return self.runtime.add_job(job)

    def send_message(self, body: Any, ttl: float | None = None) -> Future:
        """Broadcast a message from any thread; it expires after `ttl` seconds."""
        message = Message.create(body, ttl or self.config.message_ttl)
        return self.runtime.call_soon(lambda: self.runtime.state.merge_message(
            Message(self.node_id, message.body, message.created, message.expires)
        ))
