"""The dashboard's operator actions: add a job, retry, re-queue or cancel one.

Each action is a command queued to the node's beat thread, as
`OperatorActionsMixin` in `ants.node.actions` defines it, and the UI awaits
its future without blocking either side. The node checks the job's status
again when the command runs, so an action that raced a change fails there
cleanly.
"""

from __future__ import annotations

import asyncio
import getpass
import socket
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ants.errors import AntsError
from ants.node.job import JobRecord, JobStatus
from ants.tui.widgets.add_job_modal import NODE_ANSWER_TIMEOUT, AddJobModal
from ants.tui.widgets.confirm_modal import ConfirmModal
from ants.tui.widgets.job_detail import JobDetailScreen
from ants.tui.widgets.jobs_panel import JobsPanel

if TYPE_CHECKING:
    from ants.tui.app import AntsApp



def operator_name() -> str:
    """Return who acts from this dashboard: "user alice@laptop from the dashboard".

    The login name and host tell two operators apart in the log and in
    the records their actions write. A process without a login name, as
    in some containers, is named "an operator".
    """
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        return f"an operator on {socket.gethostname()} from the dashboard"
    return f"user {user}@{socket.gethostname()} from the dashboard"


ACTOR = operator_name()
"""The author of an action, as the node's log lines and job records name it."""


@dataclass(frozen=True, slots=True)
class JobAction:
    """One operator action on an existing job."""

    verb: str
    """Past participle for messages: "retried", "re-queued", "cancelled"."""
    status: JobStatus
    """The only status the action applies to."""
    question: str | None
    """The confirmation question, or None for an action that needs none."""
    detail: str
    """The action's effect, for the confirmation and the help texts."""
    confirm_label: str = ""


RETRY = JobAction(
    "retried",
    JobStatus.FAILED,
    None,
    "Run the failed job again as a new job with the same name and payload; "
    "the failed record stays.",
)
REQUEUE = JobAction(
    "re-queued",
    JobStatus.ASSIGNED,
    "Re-queue {job}?",
    "Take the job from its owner and make it pending again with the next "
    "attempt number. The owner's result, if it still comes, is dropped.",
    "Re-queue job",
)
CANCEL = JobAction(
    "cancelled",
    JobStatus.PENDING,
    "Cancel {job}?",
    "End the job as failed, so no node runs it. To run it later, retry it "
    "with t, which adds it again as a new job.",
    "Cancel job",
)


def describe(record: JobRecord) -> str:
    """Return a short name for messages: "job 1a2b3c4d5e6f (resize)"."""
    return f"job {record.id[:12]} ({record.name})"


class JobActionsMixin:
    """Action methods of AntsApp for the keys t, u, c and a and the palette.

    The target is the job of an open detail screen, else the job under the
    cursor of the jobs panel.
    """

    def action_retry_job(self: AntsApp) -> None:
        """Retry the failed job under the cursor as a new job."""
        self._start_job_action(RETRY, self.node.runtime.retry_job)

    def action_requeue_job(self: AntsApp) -> None:
        """Ask, then re-queue the assigned job under the cursor."""
        self._start_job_action(REQUEUE, self.node.runtime.requeue_job)

    def action_cancel_job(self: AntsApp) -> None:
        """Ask, then cancel the pending job under the cursor."""
        self._start_job_action(CANCEL, self.node.runtime.cancel_job)

    def action_add_job(self: AntsApp) -> None:
        """Open the add-job form; the form adds the job and reports errors itself."""
        if self.screen.is_modal and not isinstance(self.screen, JobDetailScreen):
            return

        def submit(job) -> Future:
            return self.node.runtime.create_job(job, by=ACTOR)

        def added(job_id: str | None) -> None:
            if job_id is not None:
                self.tell(f"added job {job_id[:12]}")
                self.refresh_view()

        self.push_screen(AddJobModal(submit), added)

    # Helpers

    def selected_job_id(self: AntsApp) -> str | None:
        """Return the id of the job an action applies to, or None if there is none."""
        screen = self.screen
        if isinstance(screen, JobDetailScreen):
            return screen.job_id
        if screen.is_modal:
            return None
        return screen.query_one(JobsPanel).selected_job_id()

    def _start_job_action(
        self: AntsApp, action: JobAction, call: Callable[..., Future]
    ) -> None:
        if self.screen.is_modal and not isinstance(self.screen, JobDetailScreen):
            return
        job_id = self.selected_job_id()
        if job_id is None:
            self.tell("no job selected: move the cursor to a job first", "warning")
            return
        record = _current_record(self, job_id)
        if record is None:
            self.tell(f"job {job_id[:12]} is no longer in the state", "warning")
            return
        if record.status is not action.status:
            self.tell(
                f"{describe(record)} is {record.status.name.lower()}; only "
                f"{action.status.name.lower()} jobs can be {action.verb}",
                "warning",
            )
            return
        if action.question is None:
            self._send_job_action(action, record, call)
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self._send_job_action(action, record, call)
            else:
                self.tell(f"{describe(record)} was not {action.verb}")

        question = action.question.format(job=describe(record))
        self.push_screen(
            ConfirmModal(question, action.detail, action.confirm_label), answered
        )

    def _send_job_action(
        self: AntsApp, action: JobAction, record: JobRecord, call: Callable[..., Future]
    ) -> None:
        future = call(record.id, by=ACTOR)
        self.run_worker(
            self._await_job_action(action, record, future),
            group="job-actions",
            exit_on_error=False,
        )

    async def _await_job_action(
        self: AntsApp, action: JobAction, record: JobRecord, future: Future
    ) -> None:
        try:
            result = await asyncio.wait_for(
                asyncio.wrap_future(future), NODE_ANSWER_TIMEOUT
            )
        except TimeoutError:
            # NOTE: the command stays queued, so a slow node may still run it.
            self.tell(
                f"the node did not answer within {NODE_ANSWER_TIMEOUT:g}s; "
                f"{describe(record)} may not be {action.verb}",
                "error",
            )
            return
        except Exception as exc:
            # The node logged the failure already; the operator sees it here too.
            # A rejected request is an AntsError, anything else a fault.
            severity = "warning" if isinstance(exc, AntsError) else "error"
            self.tell(f"{describe(record)} was not {action.verb}: {exc}", severity)
            return
        text = f"{action.verb} {describe(record)}"
        if action is RETRY:
            text += f" as new job {result[:12]}"
        self.tell(text)
        self.refresh_view()


def _current_record(app: AntsApp, job_id: str) -> JobRecord | None:
    # A fresh snapshot, not the shown one, which is stale while the view is paused.
    for record in app.node.snapshot().jobs:
        if record.id == job_id:
            return record
    return None
