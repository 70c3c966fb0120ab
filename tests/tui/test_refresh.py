"""The refresh timer on the fake node: slow refreshes space out the next ones."""

from __future__ import annotations

import time
from dataclasses import replace

from ants.tui.app import MAX_REFRESH_SHARE
from ants.tui.widgets.jobs_panel import JobsPanel

from .fakes import build_fixed_app

SLOW_APPLY = 0.05
"""Seconds the jobs panel is made to take per snapshot."""


async def test_slow_refresh_delays_next_tick(wait_until):
    # The app's own timer stays out of the way: under load it could take
    # each due refresh first and so push the next one on again.
    app = build_fixed_app(refresh_interval=3600.0)
    node = app.node
    snapshot = node.snapshot()
    versions = iter(range(2, 1000))
    node.snapshot = lambda: replace(snapshot, version=next(versions))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        jobs = app.query_one(JobsPanel)
        apply_snapshot = jobs.apply_snapshot

        def slow_apply(new_snapshot):
            time.sleep(SLOW_APPLY)
            apply_snapshot(new_snapshot)

        jobs.apply_snapshot = slow_apply
        started = time.monotonic()
        app._refresh_tick()
        first_version = app._shown_version
        assert app._next_refresh_at >= started + SLOW_APPLY / MAX_REFRESH_SHARE

        app._refresh_tick()
        assert app._shown_version == first_version

        await wait_until(
            pilot, lambda: time.monotonic() >= app._next_refresh_at, "the backoff"
        )
        app._refresh_tick()
        assert app._shown_version > first_version
