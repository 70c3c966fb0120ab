"""Fixtures and the Hypothesis profile shared by every test package."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import ProcessStarter
from hypothesis import HealthCheck, settings

# Derandomized so a failing example shows up on every run, not only on some.
# Set HYPOTHESIS_PROFILE=explore to search with fresh random seeds instead.
settings.register_profile(
    "ants",
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("explore", deadline=None, max_examples=1000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ants"))


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[ProcessStarter]:
    """Start child processes in `tmp_path` and stop each one by PID at teardown."""
    starter = ProcessStarter(tmp_path)
    try:
        yield starter
    finally:
        starter.stop_all()
