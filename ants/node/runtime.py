"""The node runtime: the beat loop that runs user hooks, claims and runs jobs.

Threads: one beat thread owns the state and calls every hook except
`do_jobs`; `workers` threads run `do_jobs`; the transport has its own.
Other threads talk to the runtime only through `call_soon` and `snapshot`.
"""

from __future__ import annotations

import logging
import math
import queue
import random
import secrets
import threading
import time
import traceback
from collections import OrderedDict, deque
from collections.abc import Callable
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

from ants.errors import AntsError, ConfigError, JobError
from ants.node.actions import OperatorActionsMixin
from ants.node.claims import ClaimsMixin, _Claim
from ants.node.history import ChangeJournal, JobHistory
from ants.node.identity import is_node_id, new_node_id
from ants.node.job import Job, JobRecord, JobStatus, Message
from ants.node.snapshot import JobTransition, NodeEvent, NodeSnapshot
from ants.node.state import Delta, State

if TYPE_CHECKING:
    from ants.comm.base import BaseCommunication
    from ants.comm.membership import MemberChange
    from ants.node.base import BaseNode
    from ants.node.config import NodeConfig

logger = logging.getLogger(__name__)

MAX_ERROR_LENGTH = 8000
"""Characters of an error or traceback kept on a job record, from its end."""

NO_OUTCOME = "do_jobs returned without calling set_result() or set_error() on this job"



class NodeRuntime(ClaimsMixin, OperatorActionsMixin):
    """Runs one node: beats, merges peers' deltas, claims, dispatches and reports."""

    def __init__(
        self,
        node: BaseNode,
        config: NodeConfig,
        communication: BaseCommunication,
        node_id: str | None = None,
    ) -> None:
        self.node = node
        self.config = config
        self.communication = communication
        if node_id is not None and not is_node_id(node_id):
            # Peers reject frames and records that carry any other form of id.
            raise ConfigError(
                f"node_id {str(node_id)[:40]!r} is not 16 lowercase hex characters; "
                "leave it out to get a random one"
            )
        self.node_id = node_id or new_node_id()
        self.state = State()
        self.beat = 0
        self.started_at: float | None = None
        self.paused = False
        self.reloads = 0
        self.reload_error: str | None = None

        self._commands: queue.SimpleQueue[tuple[Callable[[], Any], Future]] = (
            queue.SimpleQueue()
        )
        self._finished: queue.SimpleQueue[Job] = queue.SimpleQueue()
        self._work: queue.Queue[list[Job] | None] = queue.Queue()
        self._claims: dict[str, _Claim] = {}
        self._running: dict[str, int] = {}
        """Job id -> attempt of the jobs handed to a worker and not finished yet."""
        self._deadlines: dict[str, float] = {}
        """Job id -> monotonic time its running attempt times out, set by the
        worker that starts the job, under `_deadlines_lock`."""
        self._deadlines_lock = threading.Lock()
        self._timed_out: set[tuple[str, int]] = set()
        self._busy: dict[int, set[str]] = {}
        """Worker thread ident -> ids of the batch it runs."""
        self._abandoned: set[int] = set()
        self._settle_delay = config.claim_settle_delay
        self._turn_seconds = self._settle_delay + config.heartbeat_interval
        self._positions: dict[str, tuple[int, int]] = {}
        """(job id, attempt) -> number of live peers that rank above this node."""
        self._ranked_among: frozenset[str] = frozenset()
        self._ranked_since = 0.0
        """Monotonic time the live member set last changed; claim turns restart then."""
        self._pending_since: dict[str, tuple[int, float]] = {}
        """Pending job id -> (attempt, monotonic time its claim turns began here)."""
        self._settle_backoff = 1.0
        """Factor on the settle delay, raised when this node learns it ran a job
        another node also ran, and decaying back to 1 (see `ClaimsMixin`)."""
        self._backoff_checked = time.monotonic()
        self._backoff_raised = -math.inf
        self._own_outcomes: OrderedDict[str, None] = OrderedDict()
        """Ids of the jobs this node finished lately, newest last, bounded."""
        self._job_seconds: float | None = None
        """Average seconds one job takes in do_jobs, measured."""
        self._random = random.Random(self.node_id)
        self._reported: set[str] = set()
        self._terminal_since: dict[str, float] = {}
        """Job id -> wall time this node first stored it terminal, for records
        without a `finished` time."""
        self._unreported: set[str] = set()
        self._history = JobHistory()
        self._journal = ChangeJournal()
        self.state.listener = self._on_record_change
        self.state.remove_listener = self._on_record_removed
        self._events: deque[NodeEvent] = deque(maxlen=config.events_kept)
        self._hook_failures: dict[str, int] = {}
        self._warnings_seen: dict[str, int] = {}
        self._stop = threading.Event()
        self._wake = threading.Event()
        """Set when a job finishes or the node stops, to act before the next beat."""
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self._workers: list[threading.Thread] = []
        self._last_purge = 0.0
        self._version = 0
        self._snapshot: NodeSnapshot | None = None
        self._snapshot_lock = threading.Lock()

    # Life cycle

    def start(self) -> None:
        """Start the transport, the workers and the beat thread; return at once."""
        if self._thread is not None:
            raise AntsError(f"node {self.node_id} is already started")
        # A fresh origin per start, so a restarted node with a kept id never
        # reuses version numbers that peers have already taken in.
        self.state.origin = f"{self.node_id[:48]}/{secrets.token_hex(4)}"
        self.communication.apply_config(self.config)
        self.communication.notify = self._wake.set
        self.communication.start(self.node_id)
        self._watch_members()
        self.started_at = time.monotonic()
        for _ in range(self.config.workers):
            self._start_worker()
        self._thread = threading.Thread(target=self._beat_loop, name="ants-beat", daemon=True)
        self._thread.start()
        logger.info(
            "node %s (%s) started, listening on %s",
            self.node_id,
            type(self.node).__name__,
            self.communication.listen_address,
        )

    def _watch_members(self) -> None:
        # SocketCommunication and MemoryCommunication keep their MemberTable
        # as `members_table`; a transport without one has no member events.
        table = getattr(self.communication, "members_table", None)
        if table is not None:
            table.watch(self._on_member_change)

    def _on_member_change(self, change: MemberChange) -> None:
        # Runs on the transport's thread under the member table's lock, so it
        # only appends to the deque, which is thread-safe, and takes no lock
        # of the runtime. Snapshots show the event after the next beat.
        self._events.append(NodeEvent(change.time, "member", change.text))

    def _start_worker(self) -> None:
        worker = threading.Thread(
            target=self._work_loop, name=f"ants-worker-{len(self._workers)}", daemon=True
        )
        worker.start()
        self._workers.append(worker)

    def shutdown(self, timeout: float = 2.0) -> None:
        """Stop beating, announce departure and stop the workers within `timeout`."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        for _ in self._workers:
            self._work.put(None)
        if not self._stopped.is_set():
            self._stop_transport()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the node has stopped; return False on timeout."""
        return self._stopped.wait(timeout)

    @property
    def is_running(self) -> bool:
        return self._thread is not None and not self._stopped.is_set()

    def _stop_transport(self) -> None:
        try:
            self.communication.stop()
        except Exception:
            logger.exception("transport of node %s failed to stop cleanly", self.node_id)
        self._stopped.set()
        logger.info("node %s stopped after %d beats", self.node_id, self.beat)

    # Commands from other threads

    def call_soon(self, function: Callable[[], Any]) -> Future:
        """Run `function` on the beat thread before the next beat; return its future."""
        future: Future = Future()
        self._commands.put((function, future))
        self._wake.set()
        return future

    def add_job(self, job: Job) -> Future:
        return self.call_soon(lambda: self._add_jobs([job], source="command"))

    def pause(self) -> Future:
        """Stop creating and claiming jobs; gossip and running jobs go on."""
        return self.call_soon(lambda: self._set_paused(True))

    def resume(self) -> Future:
        return self.call_soon(lambda: self._set_paused(False))

    def reload(self, new_class: type) -> Future:
        """Swap the node's class for `new_class` between two beats."""
        return self.call_soon(lambda: self._swap_class(new_class))

    def report_reload_error(self, message: str) -> None:
        """Record a failed reload attempt for the snapshot; the old class keeps running."""
        self.call_soon(lambda: self._note_reload_error(message))

    def _note_reload_error(self, message: str) -> None:
        self.reload_error = message
        self._event("reload", f"reload failed: {message.splitlines()[0]}")

    def _set_paused(self, paused: bool) -> None:
        if self.paused != paused:
            self.paused = paused
            logger.info("node %s %s", self.node_id, "paused" if paused else "resumed")
            self._event("node", "paused" if paused else "resumed")

    def _swap_class(self, new_class: type) -> str:
        from ants.node.base import BaseNode

        if not (isinstance(new_class, type) and issubclass(new_class, BaseNode)):
            raise AntsError(f"{new_class!r} is not a BaseNode subclass")
        old_class = type(self.node)
        self.node.__class__ = new_class
        self.reloads += 1
        self.reload_error = None
        logger.info(
            "node %s reloaded %s from %s (reload %d)",
            self.node_id,
            new_class.__name__,
            getattr(new_class, "__module__", "?"),
            self.reloads,
        )
        self._event("reload", f"reloaded {new_class.__name__} (reload {self.reloads})")
        self._call_hook("on_reload", old_class)
        return new_class.__name__

    # The beat

    def _beat_loop(self) -> None:
        self._call_hook("on_start")
        interval = self.config.heartbeat_interval
        next_beat = time.monotonic()
        try:
            while not self._stop.is_set():
                try:
                    self._beat_once()
                except Exception:
                    logger.exception("beat %d of node %s failed", self.beat, self.node_id)
                next_beat += interval
                if next_beat < time.monotonic():
                    next_beat = time.monotonic()
                self._wait_for_beat(next_beat)
        finally:
            self._release_owned()
            self._call_hook("on_stop")
            self._stop_transport()

    def _wait_for_beat(self, next_beat: float) -> None:
        # Commands, peers' deltas and results are handled as soon as they
        # arrive rather than at the next beat. A reload then takes effect at
        # once, each gossip hop costs no beat, and a node killed between a
        # job's end and the next gossip loses fewer results.
        while not self._stop.is_set():
            delay = next_beat - time.monotonic()
            if delay <= 0:
                return
            if self._wake.wait(delay):
                self._wake.clear()
                if self._stop.is_set():
                    return
                try:
                    self._run_commands()
                    self._merge_incoming()
                    self._apply_finished()
                    self._report_terminal()
                    self.communication.broadcast(self.state)
                except Exception:
                    logger.exception("publishing results on node %s failed", self.node_id)

    def _on_job_finished(self, job: Job) -> None:
        self._finished.put(job)
        self._wake.set()

    def _release_owned(self) -> None:
        """Re-queue this node's unfinished jobs so peers need not wait for dead_after."""
        try:
            self._apply_finished()
            owned = [
                r for r in self.state.with_status(JobStatus.ASSIGNED) if r.owner == self.node_id
            ]
            for record in owned:
                # Handing back is not a failure, so it does not use up an attempt.
                spared = record.with_changes(max_attempts=record.max_attempts + 1)
                self._requeue(spared, f"handed back by {self.node_id} when it stopped")
            self._claims.clear()
            self._running.clear()
            if owned:
                logger.info("node %s handed back %d job(s) before leaving",
                            self.node_id, len(owned))
            self.communication.broadcast(self.state)
        except Exception:
            logger.exception("node %s failed to hand back its jobs", self.node_id)

    def _beat_once(self) -> None:
        self.beat += 1
        self._run_commands()
        self._merge_incoming()
        self._apply_finished()
        self._expire_timeouts()
        now = time.time()
        if now - self._last_purge >= min(1.0, self.config.done_ttl / 4):
            self._purge(now)
            self._last_purge = now
        self._requeue_orphans()
        if not self.config.observe:
            self._add_messages()
        self._process_messages(now)
        if not self.paused and not self.config.observe:
            self._add_jobs(self._call_hook("add_jobs") or [], source="add_jobs")
            self._claim_jobs()
        self._dispatch_settled()
        self._report_terminal()
        self.communication.broadcast(self.state)
        self._version += 1

    def _run_commands(self) -> None:
        while True:
            try:
                function, future = self._commands.get_nowait()
            except queue.Empty:
                return
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(function())
            except Exception as exc:
                logger.warning("command failed on node %s: %s", self.node_id, exc)
                future.set_exception(exc)

    def _call_hook(self, name: str, *args: Any) -> Any:
        # Hooks are looked up on the current class each time so a reload takes effect.
        hook = getattr(type(self.node), name, None)
        if hook is None:
            return None
        try:
            result = hook(self.node, *args)
        except Exception:
            count = self._hook_failures.get(name, 0) + 1
            self._hook_failures[name] = count
            if count == 1 or count % 100 == 0:
                logger.exception(
                    "hook %s of %s raised (failure %d); the node keeps running",
                    name,
                    type(self.node).__name__,
                    count,
                )
            self._event("hook", f"{name} raised: {traceback.format_exc(limit=1).strip()}")
            return None
        self._hook_failures.pop(name, None)
        return result

    def _warn_once(self, text: str) -> None:
        """Log a warning about user code once per distinct text, then every 100th time."""
        count = self._warnings_seen.get(text, 0) + 1
        self._warnings_seen[text] = count
        if count == 1 or count % 100 == 0:
            suffix = f" (seen {count} times)" if count > 1 else ""
            logger.warning("node %s: %s%s", self.node_id, text, suffix)

    def _event(self, kind: str, text: str, job_id: str | None = None) -> None:
        self._events.append(NodeEvent(time.time(), kind, text, job_id))

    # Incoming state

    def _merge_incoming(self) -> None:
        try:
            received = self.communication.pull()
        except Exception:
            logger.exception("pull from the transport failed on node %s", self.node_id)
            return
        now = time.time()
        for item in received:
            if isinstance(item, State):
                item = item.full_delta()
            jobs = [record for record in item.jobs if not self._is_expired(record, now)]
            messages = [message for message in item.messages if not message.is_expired(now)]
            delta = Delta(tuple(jobs), tuple(messages), item.stamps, item.reach)
            for record in self.state.merge(delta):
                self._note_remote_change(record)

    def _note_remote_change(self, record: JobRecord) -> None:
        claim = self._claims.get(record.id)
        if claim is not None and record.owner != self.node_id:
            del self._claims[record.id]
            logger.debug(
                "node %s lost the claim of job %s to %s", self.node_id, record.id, record.owner
            )
        if record.is_terminal or record.status is JobStatus.PENDING and record.attempt:
            self._event(
                "job",
                f"{record.name} {record.status.name.lower()} by {record.owner or '-'} "
                f"(attempt {record.attempt + 1})",
                record.id,
            )

    def _is_expired(self, record: JobRecord, now: float) -> bool:
        """Return whether a terminal record has outlived `done_ttl`.

        A record without a `finished` time (a last attempt lost with its
        owner) counts from when this node first stored it terminal, and a
        peer's copy that this node does not store yet is never expired.
        """
        if not record.is_terminal:
            return False
        finished = record.finished
        if finished is None:
            finished = self._terminal_since.get(record.id)
            if finished is None:
                return False
        return finished + self.config.done_ttl < now

    def _purge(self, now: float) -> None:
        terminal = self.state.with_status(JobStatus.DONE) + self.state.with_status(
            JobStatus.FAILED
        )
        expired = [r.id for r in terminal if self._is_expired(r, now)]
        for job_id in expired:
            self.state.remove_job(job_id)
            self._reported.discard(job_id)
            self._unreported.discard(job_id)
        for message in list(self.state.messages.values()):
            if message.is_expired(now):
                self.state.remove_message(message.id)
        if expired:
            logger.debug("node %s purged %d expired tombstones", self.node_id, len(expired))

    # Membership-driven re-queues

    def _requeue_orphans(self) -> None:
        members = {member.node_id: member.state for member in self.communication.members()}
        uptime = time.monotonic() - (self.started_at or time.monotonic())
        for record in self.state.with_status(JobStatus.ASSIGNED):
            owner = record.owner
            cause = None
            if owner == self.node_id:
                if record.id not in self._claims and record.id not in self._running:
                    cause = "this node restarted and no longer runs it"
            elif not members:
                continue
            elif owner not in members:
                if uptime > self.config.dead_after:
                    cause = f"owner {owner} is not a member"
            elif members[owner] == "dead":
                cause = f"owner {owner} is dead"
            elif members[owner] == "left":
                # The same record the owner wrote when it handed the job back.
                spared = record.with_changes(max_attempts=record.max_attempts + 1)
                self._requeue(spared, f"handed back by {owner} when it stopped")
                continue
            if cause is not None:
                # The record's error names no local cause, because every node
                # that notices the lost attempt must write the same record.
                reason = (
                    f"owner {owner} stopped responding or restarted "
                    f"during attempt {record.attempt + 1}"
                )
                self._requeue(record, reason, cause)

    def _requeue(self, record: JobRecord, reason: str, cause: str | None = None) -> None:
        """Re-queue an assigned record whose attempt was lost, or fail it after its last attempt.

        Every node that notices writes the identical record from `record` and
        `reason` alone, so re-queues agree byte for byte. A last attempt fails
        with the attempt number `_finish` writes, and with no `finished` time,
        because nodes notice at different times. Such a tombstone expires
        `done_ttl` after each node first stores it (see `_is_expired`).
        `cause` is what this node saw, for the log only.
        """
        next_attempt = record.attempt + 1
        if next_attempt >= record.max_attempts:
            new = record.with_changes(status=JobStatus.FAILED, error=reason, finished=None)
        else:
            new = record.with_changes(
                status=JobStatus.PENDING, attempt=next_attempt, error=reason
            )
        if self.state.merge_job(new) is None:
            return
        because = reason if cause is None else f"{reason} ({cause})"
        if new.is_terminal:
            logger.info(
                "node %s failed job %s (%s) after its last attempt, %d of %d, because %s",
                self.node_id, record.id, record.name,
                record.attempt + 1, record.max_attempts, because,
            )
        else:
            logger.info(
                "node %s re-queued job %s (%s) after attempt %d, because %s",
                self.node_id, record.id, record.name, record.attempt + 1, because,
            )
        self._event("requeue", f"{record.name}: {because}", record.id)

    # Local writes

    def _add_jobs(self, jobs: list[Job], source: str) -> int:
        if not isinstance(jobs, (list, tuple)):
            self._warn_once(
                f"{source} returned {type(jobs).__name__}; expected a list of Job objects"
            )
            return 0
        added = 0
        now = time.time()
        for job in jobs:
            if not isinstance(job, Job):
                self._warn_once(
                    f"{source} returned a {type(job).__name__}, which is not a Job; "
                    "it was skipped"
                )
                continue
            if job.id in self.state.jobs:
                continue
            record = job.record.with_changes(
                status=JobStatus.PENDING,
                attempt=0,
                owner=None,
                max_attempts=job.record.max_attempts or self.config.max_attempts,
                creator=self.node_id,
                created=now,
            )
            if self.state.merge_job(record) is not None:
                added += 1
        if added:
            logger.info("node %s added %d job(s) from %s", self.node_id, added, source)
            self._event("job", f"added {added} job(s) from {source}")
        return added

    def _add_messages(self) -> None:
        messages = self._call_hook("add_messages") or []
        for message in messages:
            if not isinstance(message, Message):
                logger.warning("add_messages returned %r, which is not a Message", message)
                continue
            stamped = Message(
                sender=self.node_id,
                body=message.body,
                created=message.created,
                expires=message.expires,
            )
            self.state.merge_message(stamped)

    def _process_messages(self, now: float) -> None:
        if getattr(type(self.node), "process_messages", None) is None:
            return
        live = [m for m in self.state.messages.values() if not m.is_expired(now)]
        self._call_hook("process_messages", live)

    def _apply_finished(self) -> None:
        while True:
            try:
                job = self._finished.get_nowait()
            except queue.Empty:
                return
            self._finish(job)

    def _expire_timeouts(self) -> None:
        now = time.monotonic()
        with self._deadlines_lock:
            expired_ids = [
                job_id for job_id, deadline in self._deadlines.items() if now >= deadline
            ]
            for job_id in expired_ids:
                del self._deadlines[job_id]
        for job_id in expired_ids:
            attempt = self._running.get(job_id)
            if attempt is None:
                continue
            record = self.state.get(job_id)
            if record is None or record.is_terminal:
                continue
            expired = Job.from_record(record.with_changes(attempt=attempt))
            expired.set_error(f"timed out after {record.timeout:g}s (attempt {attempt + 1})")
            self._finish(expired)
            self._timed_out.add((job_id, attempt))
            self._replace_stuck_worker(job_id)

    def _replace_stuck_worker(self, job_id: str) -> None:
        # Python threads cannot be killed: the stuck worker finishes on its own
        # and exits, and a new one takes its place so capacity is kept.
        for ident, ids in list(self._busy.items()):
            if job_id in ids and ident not in self._abandoned:
                self._abandoned.add(ident)
                self._start_worker()
                logger.warning(
                    "node %s started a replacement worker; the old one is still in do_jobs",
                    self.node_id,
                )

    def _finish(self, job: Job) -> None:
        if (job.id, job.attempt) in self._timed_out:
            self._timed_out.discard((job.id, job.attempt))
            logger.info(
                "job %s (%s) finished after its attempt %d timed out; outcome dropped",
                job.id, job.name, job.attempt + 1,
            )
            return
        if self._running.get(job.id) == job.attempt:
            del self._running[job.id]
            with self._deadlines_lock:
                self._deadlines.pop(job.id, None)
        outcome = job.outcome()
        if outcome is None:
            return
        record = job.record
        now = time.time()
        kind, value = outcome
        if kind == "result":
            new = record.with_changes(
                status=JobStatus.DONE, owner=self.node_id, result=value, finished=now
            )
            logger.info("node %s finished job %s (%s)", self.node_id, record.id, record.name)
        else:
            error = str(value)[-MAX_ERROR_LENGTH:]
            next_attempt = record.attempt + 1
            if next_attempt >= record.max_attempts:
                new = record.with_changes(
                    status=JobStatus.FAILED, owner=self.node_id, error=error,
                    attempt=record.attempt, finished=now,
                )
                logger.warning(
                    "job %s (%s) failed on its last attempt, %d of %d: %s",
                    record.id, record.name, record.attempt + 1, record.max_attempts,
                    error.splitlines()[-1],
                )
            else:
                # The owner stays on the pending record, so every node ranks it last.
                new = record.with_changes(
                    status=JobStatus.PENDING, owner=self.node_id, error=error,
                    attempt=next_attempt,
                )
                logger.warning(
                    "job %s (%s) failed attempt %d of %d, re-queued: %s",
                    record.id, record.name, record.attempt + 1, record.max_attempts,
                    error.splitlines()[-1],
                )
        if self.state.merge_job(new) is not None:
            if new.is_terminal:
                self._remember_outcome(new.id)
        else:
            current = self.state.get(record.id)
            if current is not None and current.is_terminal and current.owner != self.node_id:
                self._note_rival(current, ran=True)
            logger.info(
                "job %s (%s) was already %s on node %s; this node's outcome was dropped",
                record.id, record.name,
                current.status.name.lower() if current else "purged",
                current.owner if current else "-",
            )
        self._event("job", f"{record.name} {new.status.name.lower()}", record.id)

    def _on_record_change(self, record: JobRecord) -> None:
        self._track_pending(record)
        if record.is_terminal and record.finished is None:
            self._terminal_since.setdefault(record.id, time.time())
        self._history.record(record)
        self._journal.add(record.id, record)
        if record.is_terminal and record.id not in self._reported:
            self._unreported.add(record.id)
        if record.is_terminal and record.owner != self.node_id and record.id in self._own_outcomes:
            self._note_rival(record, ran=True)

    def _on_record_removed(self, job_id: str) -> None:
        self._forget_pending(job_id)
        self._terminal_since.pop(job_id, None)
        self._history.forget(job_id)
        self._journal.add(job_id, None)

    def _report_terminal(self) -> None:
        if not self._unreported:
            return
        fresh = []
        for job_id in self._unreported:
            record = self.state.get(job_id)
            if record is not None and record.is_terminal:
                fresh.append(record)
        self._unreported.clear()
        if not fresh:
            return
        fresh.sort(key=lambda r: (r.finished or 0.0, r.id))
        self._reported.update(r.id for r in fresh)
        self._call_hook("completed_jobs", [Job.from_record(r) for r in fresh])

    # Workers

    def _work_loop(self) -> None:
        ident = threading.get_ident()
        while ident not in self._abandoned:
            batch = self._work.get()
            if batch is None:
                return
            batch = [job for job in batch if self._still_to_run(job)]
            if not batch:
                continue
            self._busy[ident] = {job.id for job in batch}
            started = time.monotonic()
            with self._deadlines_lock:
                for job in batch:
                    if job.record.timeout is not None:
                        self._deadlines[job.id] = started + job.record.timeout
            try:
                self._run_batch(batch)
            finally:
                self._busy.pop(ident, None)
            self._note_job_seconds((time.monotonic() - started) / len(batch))

    def _still_to_run(self, job: Job) -> bool:
        """Return whether a worker should start `job`; otherwise release it.

        Runs on a worker thread. A job waits in the work queue until a worker
        is free, and meanwhile its attempt may have been re-queued, handed
        back, finished by another node or timed out. Such a job is not run,
        and it goes back to the beat thread without an outcome, which ends its
        count as running.
        """
        record = self.state.get(job.id)
        if (job.id, job.attempt) in self._timed_out:
            reason = "its attempt timed out"
        elif self._running.get(job.id) != job.attempt:
            reason = "this node no longer runs it"
        elif (
            record is None
            or record.status is not JobStatus.ASSIGNED
            or record.owner != self.node_id
            or record.attempt != job.attempt
        ):
            reason = "it was re-queued, claimed or finished by another node meanwhile"
            self._on_job_finished(Job.from_record(job.record))
        else:
            return True
        logger.info(
            "node %s skipped job %s (%s) attempt %d before it started, because %s",
            self.node_id, job.id, job.name, job.attempt + 1, reason,
        )
        return False

    def _note_job_seconds(self, seconds: float) -> None:
        # An exponentially weighted average; a float store is atomic under the GIL.
        previous = self._job_seconds
        self._job_seconds = seconds if previous is None else 0.8 * previous + 0.2 * seconds

    def _run_batch(self, batch: list[Job]) -> None:
        hook = getattr(type(self.node), "do_jobs", None)
        try:
            if hook is None:
                raise JobError(f"{type(self.node).__name__} does not define do_jobs")
            hook(self.node, batch)
        except Exception as exc:
            text = traceback.format_exc()
            logger.error(
                "do_jobs of %s raised %s for %d job(s)",
                type(self.node).__name__, type(exc).__name__, len(batch),
                exc_info=True,
            )
            for job in batch:
                if not job.is_finished:
                    job.set_error(text)
            return
        for job in batch:
            if not job.is_finished:
                job.set_error(NO_OUTCOME)

    # Views

    def job_history(self, job_id: str) -> tuple[JobTransition, ...]:
        """Return the latest transitions of a job as this node saw them, oldest first.

        Safe to call from any thread. At most TRANSITIONS_PER_JOB are kept
        per job, and none once the job is purged.
        """
        return self._history.transitions(job_id)

    def snapshot(self) -> NodeSnapshot:
        """Return an immutable copy of what the dashboard shows."""
        with self._snapshot_lock:
            previous = self._snapshot
            if previous is not None and previous.version == self._version:
                return previous
            version = self._version
            # The journal's version is read before the records, so `jobs`
            # contains at least every change up to it.
            jobs_version = self._journal.version
            if previous is not None and previous.jobs_version == jobs_version:
                jobs = previous.jobs
                counts = previous.counts
                assigned_since = previous.assigned_since
            else:
                jobs = tuple(self.state.records())
                counts = self.state.counts()
                assigned_since = self._history.assigned_since()
            job_changes = self._journal.changes()
            members = self.communication.members()
            uptime = 0.0
            if self.started_at is not None:
                uptime = time.monotonic() - self.started_at
            self._snapshot = NodeSnapshot(
                version=version,
                node_id=self.node_id,
                node_class=type(self.node).__name__,
                listen=self.communication.listen_address,
                advertise=self.communication.advertise_address,
                beat=self.beat,
                uptime=uptime,
                paused=self.paused,
                observe=self.config.observe,
                jobs=jobs,
                counts=counts,
                members=tuple(members),
                traffic=tuple(self.communication.traffic()),
                rates=tuple(self.communication.rates()),
                events=tuple(self._events),
                reloads=self.reloads,
                reload_error=self.reload_error,
                warnings=tuple(self.communication.warnings),
                jobs_version=jobs_version,
                job_changes=job_changes,
                assigned_since=assigned_since,
                sync_behind=self.communication.sync_behind(),
            )
            return self._snapshot
