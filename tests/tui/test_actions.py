"""Operator actions from the dashboard: retry, re-queue, cancel and add a job."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator

import pytest
from textual.widgets import Input, TextArea

from ants.comm.socket import SocketCommunication
from ants.node.base import BaseNode
from ants.node.config import NodeConfig
from ants.node.job import Job, JobStatus
from ants.tui.app import make_app
from ants.tui.job_actions import ACTOR
from ants.tui.widgets.add_job_modal import AddJobModal, parse_job_form
from ants.tui.widgets.confirm_modal import ConfirmModal
from ants.tui.widgets.job_detail import JobDetailScreen
from ants.tui.widgets.jobs_panel import JobsPanel

from .conftest import INTERVAL

SIZE = (120, 40)


class OperatedNode(BaseNode):
    """Fails "bad" once, blocks "stuck" until released, never claims "waiting"."""

    def __init__(self, config, communication):
        super().__init__(config, communication)
        self.release = threading.Event()
        self.failed_once = False

    def assign_to_jobs(self, pending_jobs):
        # A re-queued "stuck" job stays pending, so the test can see it there.
        return [
            job
            for job in pending_jobs
            if job.name != "waiting" and not (job.name == "stuck" and job.attempt)
        ]

    def do_jobs(self, my_assigned_jobs):
        for job in my_assigned_jobs:
            if job.name == "bad" and not self.failed_once:
                self.failed_once = True
                job.set_error("first run fails")
            elif job.name == "stuck":
                self.release.wait(20)
                job.set_result({"late": True})
            else:
                job.set_result({"ok": True})


@pytest.fixture
def node() -> Iterator[OperatedNode]:
    communication = SocketCommunication(
        host="127.0.0.1", port=0, pull_interval=INTERVAL, bootstrap_nodes=[]
    )
    made = OperatedNode(NodeConfig.local(max_attempts=1, workers=2), communication)
    yield made
    made.release.set()
    made.shutdown(timeout=1.0)


@pytest.fixture
def watching_peer(node) -> Iterator[BaseNode]:
    """A started peer of `node` that runs no jobs, to see changes arrive by gossip."""
    node.start()
    communication = SocketCommunication(
        host="127.0.0.1",
        port=0,
        pull_interval=INTERVAL,
        bootstrap_nodes=[node.communication.listen_address],
    )
    peer = BaseNode(NodeConfig.local(), communication)
    peer.start()
    yield peer
    peer.shutdown(timeout=1.0)


async def _select_job(pilot, app, job_id: str, status: JobStatus, wait_until) -> None:
    """Show the tab of `status` and put the jobs table's cursor on `job_id`."""
    # The tabs activate their first tab once mounted, which undoes an earlier switch.
    await wait_until(pilot, lambda: app.snapshot is not None, "a first snapshot")
    await pilot.pause()
    jobs = app.query_one(JobsPanel)
    jobs.show_status(status)
    table = jobs.table(status)
    await wait_until(
        pilot,
        lambda: table.has_job(job_id),
        f"job {job_id[:12]} in the {status.name.lower()} tab",
    )
    table.focus()
    table.move_cursor(table.get_row_index(job_id))
    await pilot.pause()
    assert jobs.selected_job_id() == job_id


async def _answer_confirmation(pilot, app, key: str, answer: str, wait_until) -> None:
    """Press `key`, wait for its question, and answer with a key or a button id."""
    await pilot.press(key)
    await wait_until(
        pilot, lambda: isinstance(app.screen, ConfirmModal), "the confirmation"
    )
    if answer.startswith("#"):
        await pilot.click(answer)
    else:
        await pilot.press(answer)


async def _add_and_select(pilot, app, node, job: Job, status: JobStatus, wait_until) -> None:
    """Add `job` to the node, wait until it reaches `status`, and select its row."""
    node.add_job(job).result(timeout=5)
    await wait_until(
        pilot, lambda: _status(node, job.id) is status, f"the job {status.name.lower()}"
    )
    await _select_job(pilot, app, job.id, status, wait_until)


def _status(node: BaseNode, job_id: str) -> JobStatus | None:
    record = node.state.get(job_id)
    return record.status if record is not None else None


async def test_retry_failed_job_runs_again(node, wait_until, caplog):
    caplog.set_level(logging.INFO, logger="ants")
    app = make_app(node, reload=False)
    async with app.run_test(size=SIZE) as pilot:
        job = Job("bad", {"n": 1})
        await _add_and_select(pilot, app, node, job, JobStatus.FAILED, wait_until)

        await pilot.press("t")

        def retry_record():
            for record in node.state.records():
                if record.name == "bad" and record.id != job.id:
                    return record
            return None

        await wait_until(pilot, lambda: retry_record() is not None, "the retry job")
        retry = retry_record()
        assert retry.payload == {"n": 1}
        assert retry.creator == node.node_id
        await wait_until(
            pilot, lambda: _status(node, retry.id) is JobStatus.DONE, "the retry done"
        )
        assert node.state.get(retry.id).result == {"ok": True}
        assert _status(node, job.id) is JobStatus.FAILED
    logged = [r.getMessage() for r in caplog.records]
    assert any(
        line.startswith(f"{ACTOR} retried failed job {job.id}")
        and line.endswith(f"on node {node.node_id}")
        for line in logged
    )


async def test_requeue_assigned_job_after_yes(node, wait_until, caplog):
    caplog.set_level(logging.INFO, logger="ants")
    app = make_app(node, reload=False)
    async with app.run_test(size=SIZE) as pilot:
        job = Job("stuck", {"n": 2})
        await _add_and_select(pilot, app, node, job, JobStatus.ASSIGNED, wait_until)

        await _answer_confirmation(pilot, app, "u", "y", wait_until)

        await wait_until(
            pilot, lambda: _status(node, job.id) is JobStatus.PENDING, "the re-queue"
        )
        record = node.state.get(job.id)
        assert record.attempt == 1
        assert record.error == f"re-queued by {ACTOR} on node {node.node_id}"
    assert any(
        "re-queued job" in r.getMessage() and ACTOR in r.getMessage()
        for r in caplog.records
    )


async def test_cancel_pending_job_after_yes(node, watching_peer, wait_until):
    app = make_app(node, reload=False)
    async with app.run_test(size=SIZE) as pilot:
        job = Job("waiting", {"n": 3})
        await _add_and_select(pilot, app, node, job, JobStatus.PENDING, wait_until)

        await _answer_confirmation(pilot, app, "c", "#confirm-yes", wait_until)

        await wait_until(
            pilot, lambda: _status(node, job.id) is JobStatus.FAILED, "the cancel"
        )
        record = node.state.get(job.id)
        assert record.error == f"cancelled by {ACTOR} on node {node.node_id}"
        assert record.owner == node.node_id
        assert not isinstance(app.screen, ConfirmModal)
        await wait_until(
            pilot,
            lambda: _status(watching_peer, job.id) is JobStatus.FAILED,
            "the cancel to reach the peer",
        )
        assert watching_peer.state.get(job.id).error == record.error


async def test_confirm_no_changes_nothing(node, wait_until):
    app = make_app(node, reload=False)
    async with app.run_test(size=SIZE) as pilot:
        job = Job("waiting", {"n": 4})
        await _add_and_select(pilot, app, node, job, JobStatus.PENDING, wait_until)
        before = node.state.get(job.id)

        await _answer_confirmation(pilot, app, "c", "n", wait_until)
        await wait_until(
            pilot, lambda: not isinstance(app.screen, ConfirmModal), "the modal closed"
        )
        # Enter lands on the focused "Keep it" button, which also declines.
        await _answer_confirmation(pilot, app, "c", "enter", wait_until)
        await wait_until(
            pilot, lambda: not isinstance(app.screen, ConfirmModal), "the modal closed"
        )
        await pilot.pause(3 * INTERVAL)

        assert node.state.get(job.id) == before
        assert _status(node, job.id) is JobStatus.PENDING


async def test_wrong_status_notifies_and_changes_nothing(node, wait_until):
    app = make_app(node, reload=False)
    async with app.run_test(size=SIZE) as pilot:
        job = Job("waiting", {"n": 5})
        await _add_and_select(pilot, app, node, job, JobStatus.PENDING, wait_until)
        before = node.state.get(job.id)

        await pilot.press("t")
        await pilot.press("u")
        await pilot.pause(3 * INTERVAL)

        assert not isinstance(app.screen, ConfirmModal)
        messages = [notification.message for notification in app._notifications]
        assert (
            f"job {job.id[:12]} (waiting) is pending; only failed jobs can be "
            "retried" in messages
        )
        assert (
            f"job {job.id[:12]} (waiting) is pending; only assigned jobs can be "
            "re-queued" in messages
        )
        assert node.state.get(job.id) == before


async def test_cancel_from_job_detail(node, wait_until):
    app = make_app(node, reload=False)
    async with app.run_test(size=SIZE) as pilot:
        job = Job("waiting", {"n": 6})
        await _add_and_select(pilot, app, node, job, JobStatus.PENDING, wait_until)
        await pilot.press("enter")
        await wait_until(
            pilot, lambda: isinstance(app.screen, JobDetailScreen), "the detail"
        )

        await _answer_confirmation(pilot, app, "c", "y", wait_until)

        await wait_until(
            pilot, lambda: _status(node, job.id) is JobStatus.FAILED, "the cancel"
        )
        await wait_until(
            pilot, lambda: isinstance(app.screen, JobDetailScreen), "back on detail"
        )
        await wait_until(
            pilot,
            lambda: (
                app.screen.record is not None
                and app.screen.record.status is JobStatus.FAILED
            ),
            "the detail showing the cancelled job",
        )


async def test_add_job_form_adds_job(node, wait_until, caplog):
    caplog.set_level(logging.INFO, logger="ants")
    app = make_app(node, reload=False)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.snapshot is not None, "a first snapshot")
        await pilot.press("a")
        await wait_until(
            pilot, lambda: isinstance(app.screen, AddJobModal), "the add-job form"
        )
        form = app.screen
        form.query_one("#job-name", Input).value = "waiting"
        form.query_one("#job-payload", TextArea).text = '{"hosts": ["a", "b"], "n": 7}'
        form.query_one("#job-max-attempts", Input).value = "4"
        await pilot.press("ctrl+s")

        expected = Job("waiting", {"n": 7, "hosts": ["a", "b"]})
        await wait_until(
            pilot, lambda: node.state.get(expected.id) is not None, "the new job"
        )
        record = node.state.get(expected.id)
        assert record.status is JobStatus.PENDING
        assert record.payload == {"hosts": ["a", "b"], "n": 7}
        assert record.max_attempts == 4
        assert record.creator == node.node_id
        await wait_until(
            pilot, lambda: not isinstance(app.screen, AddJobModal), "the form closed"
        )
    assert any(
        r.getMessage() == f"{ACTOR} added job {expected.id} (waiting) on node "
        f"{node.node_id}"
        for r in caplog.records
    )


async def test_add_job_form_typed_payload(node, wait_until):
    app = make_app(node, reload=False)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.snapshot is not None, "a first snapshot")
        await pilot.press("a")
        await wait_until(
            pilot, lambda: isinstance(app.screen, AddJobModal), "the add-job form"
        )
        await pilot.press(*"typed", "tab", *'{"n": 1}', "ctrl+s")

        expected = Job("typed", {"n": 1})
        await wait_until(
            pilot, lambda: node.state.get(expected.id) is not None, "the typed job"
        )
        assert node.state.get(expected.id).payload == {"n": 1}


async def test_add_job_form_bad_json_stays_open(node, wait_until):
    app = make_app(node, reload=False)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.snapshot is not None, "a first snapshot")
        jobs_before = len(node.state.jobs)
        await pilot.press("a")
        await wait_until(
            pilot, lambda: isinstance(app.screen, AddJobModal), "the add-job form"
        )
        form = app.screen
        await pilot.press(*"broken")
        form.query_one("#job-payload", TextArea).text = '{"n": 1,}'
        await pilot.click("#job-add")
        await pilot.pause()

        assert app.screen is form
        assert form.error_text == (
            "payload is not valid JSON: Expecting property name enclosed in double "
            "quotes at line 1, column 9"
        )
        assert form.has_class("-error")
        assert form.focused is form.query_one("#job-payload", TextArea)

        # A value that is valid JSON but too large for a payload is named too.
        form.query_one("#job-payload", TextArea).text = '{"n": 123456789012345678901}'
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.screen is form
        assert form.error_text.startswith("payload['n'] is 123456789012345678901")

        # The same job twice: the node's rejection shows in the form.
        form.query_one("#job-payload", TextArea).text = '{"n": 1}'
        await pilot.press("ctrl+s")
        await wait_until(
            pilot, lambda: not isinstance(app.screen, AddJobModal), "the form closed"
        )
        assert len(node.state.jobs) == jobs_before + 1
        await pilot.press("a")
        await wait_until(
            pilot, lambda: isinstance(app.screen, AddJobModal), "the form again"
        )
        form = app.screen
        await pilot.press(*"broken")
        form.query_one("#job-payload", TextArea).text = '{"n": 1}'
        await pilot.press("enter")
        await wait_until(pilot, lambda: form.error_text != "", "the node's rejection")
        assert "exists already" in form.error_text
        assert app.screen is form
        await pilot.press("escape")
        assert len(node.state.jobs) == jobs_before + 1


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        (("  ", "{}"), "job-name", "name is missing: enter the job's name"),
        (
            ("x", "[1, 2"),
            "job-payload",
            "payload is not valid JSON: Expecting ',' delimiter at line 1, column 6",
        ),
        (
            ("x", '{"a": ' * 40 + "1" + "}" * 40),
            "job-payload",
            "is nested deeper than 32 levels (MAX_DEPTH)",
        ),
        (
            ("x", "{}", "0"),
            "job-max-attempts",
            "max attempts must be a whole number of 1 or more, got '0'",
        ),
        (
            ("x", "{}", "", "-1"),
            "job-timeout",
            "timeout must be a positive number of seconds, got '-1'",
        ),
        (
            ("y" * 201, "{}"),
            "job-name",
            "job name is 201 characters, limit is 200",
        ),
    ],
)
def test_parse_job_form_rejects(fields, field, message):
    from ants.tui.widgets.add_job_modal import JobFormError

    with pytest.raises(JobFormError) as caught:
        parse_job_form(*fields)

    assert caught.value.field == field
    assert str(caught.value).endswith(message)


def test_parse_job_form_accepts_blank_payload():
    job = parse_job_form("ping", "  ", "", "2.5")

    assert job.payload is None
    assert job.record.timeout == 2.5


async def test_stopped_node_times_out_action(node, wait_until, monkeypatch):
    monkeypatch.setattr("ants.tui.job_actions.NODE_ANSWER_TIMEOUT", 0.5)
    app = make_app(node, reload=False)
    async with app.run_test(size=SIZE) as pilot:
        job = Job("waiting", {"n": 8})
        await _add_and_select(pilot, app, node, job, JobStatus.PENDING, wait_until)
        node.shutdown(timeout=1.0)

        await _answer_confirmation(pilot, app, "c", "y", wait_until)

        expected = (
            f"the node did not answer within 0.5s; job {job.id[:12]} (waiting) "
            "may not be cancelled"
        )
        await wait_until(
            pilot,
            lambda: expected in [n.message for n in app._notifications],
            "the timeout notification",
        )
        assert _status(node, job.id) is JobStatus.PENDING
