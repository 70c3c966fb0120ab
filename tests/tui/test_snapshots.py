"""SVG snapshots of the dashboard's main views on a fake node with a frozen clock.

The app runs on `fakes.FakeNode`, whose snapshot, log lines and clock are
fixed, so a difference means the dashboard's look changed. After an intended
change, regenerate the SVGs under tests/tui/__snapshots__/ and review them:

    PYTHONPATH=$PWD python -m pytest tests/tui/test_snapshots.py --snapshot-update

A failing run writes snapshot_report.html with the expected and actual views
side by side.
"""

from __future__ import annotations

import pytest

from ants.node.job import JobStatus
from ants.tui.widgets.job_detail import JobDetailScreen
from ants.tui.widgets.jobs_panel import JobsPanel
from ants.tui.widgets.keys_screen import KeysScreen

from .fakes import FrozenClock, build_fixed_app, fixed_jobs, frozen_dashboard_time

WIDE = (120, 40)
COMPACT = (80, 24)


@pytest.fixture
def app():
    """A dashboard on the fake node, with local times in UTC and a frozen clock."""
    clock = FrozenClock()
    with frozen_dashboard_time(clock):
        yield build_fixed_app(clock)


@pytest.fixture
def failed_job_id() -> str:
    """The id of the first failed job in the fake node's snapshot."""
    failed = [r for r in fixed_jobs() if r.status is JobStatus.FAILED]
    return failed[0].id


def test_main_view_snapshot(app, snap_compare):
    assert snap_compare(app, terminal_size=WIDE)


def test_compact_view_snapshot(app, snap_compare):
    async def check_compact(pilot) -> None:
        assert app.screen.has_class("-compact")

    assert snap_compare(app, terminal_size=COMPACT, run_before=check_compact)


def test_keys_screen_snapshot(app, snap_compare):
    async def open_keys(pilot) -> None:
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, KeysScreen)

    assert snap_compare(app, terminal_size=WIDE, run_before=open_keys)


def test_job_detail_snapshot(app, snap_compare, failed_job_id):
    async def open_detail(pilot) -> None:
        app.post_message(JobsPanel.JobSelected(failed_job_id))
        await pilot.pause()
        assert isinstance(app.screen, JobDetailScreen)
        assert app.screen.job_id == failed_job_id

    assert snap_compare(app, terminal_size=WIDE, run_before=open_detail)
