"""SVG snapshots of the dashboard's main views on a fake node with a frozen clock.

The app runs on `fakes.FakeNode`, whose snapshot, log lines and clock are
fixed, so a difference means the dashboard's look changed. After an intended
change, regenerate the SVGs under tests/tui/__snapshots__/ and review them:

    PYTHONPATH=$PWD python -m pytest tests/tui/test_snapshots.py --snapshot-update

A failing run writes snapshot_report.html with the expected and actual views
side by side.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from ants.tui.widgets.job_detail import JobDetailScreen
from ants.tui.widgets.keys_screen import KeysScreen

from .fakes import (
    FrozenClock,
    build_fixed_app,
    failed_job_id,
    fixed_conditions,
    open_job_detail,
    open_keys,
    settle,
)

WIDE = (120, 40)
COMPACT = (80, 24)


@pytest.fixture
def app():
    """A dashboard on the fake node, built and run under `fixed_conditions`."""
    clock = FrozenClock()
    with fixed_conditions():
        yield build_fixed_app(clock)


def test_main_view_snapshot(app, snap_compare):
    assert snap_compare(app, terminal_size=WIDE, run_before=settle)


def test_compact_view_snapshot(app, snap_compare):
    async def run_before(pilot) -> None:
        await settle(pilot)
        assert app.screen.has_class("-compact")

    assert snap_compare(app, terminal_size=COMPACT, run_before=run_before)


def test_keys_screen_snapshot(app, snap_compare):
    async def run_before(pilot) -> None:
        await open_keys(pilot)
        assert isinstance(app.screen, KeysScreen)

    assert snap_compare(app, terminal_size=WIDE, run_before=run_before)


def test_job_detail_snapshot(app, snap_compare):
    async def run_before(pilot) -> None:
        await open_job_detail(pilot)
        assert isinstance(app.screen, JobDetailScreen)
        assert app.screen.job_id == failed_job_id()

    assert snap_compare(app, terminal_size=WIDE, run_before=run_before)


def test_screenshots_script_writes_views(tmp_path):
    path = Path(__file__).resolve().parents[2] / "scripts" / "screenshots.py"
    spec = importlib.util.spec_from_file_location("screenshots_script", path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)

    assert script.main(["--out", str(tmp_path)]) == 0

    written = sorted(file.name for file in tmp_path.glob("*.svg"))
    cluster_views = ["cluster-120x40.svg", "cluster-alert-120x40.svg"]
    fake_views = [name for name, _, _ in script.VIEWS]
    assert written == sorted(cluster_views + fake_views)
    main_view = (tmp_path / "dashboard-120x40.svg").read_text()
    assert "PrimeCounter" in main_view
    assert "Keys" in (tmp_path / "keys-120x40.svg").read_text()
    assert failed_job_id()[:12] in (tmp_path / "job-detail-120x40.svg").read_text()
