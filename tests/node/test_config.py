"""NodeConfig: presets, derived values and validation messages."""

from __future__ import annotations

import math

import pytest

from ants import BaseConfig, ConfigError, NodeConfig


def test_config_local_preset_is_fast():
    config = NodeConfig.local()
    assert config.heartbeat_interval == 0.2
    assert config.suspect_after == 1.5
    assert config.dead_after == 3.0


def test_config_local_accepts_overrides():
    config = NodeConfig.local(max_attempts=5, dead_after=4.0)
    assert config.max_attempts == 5
    assert config.dead_after == 4.0
    assert config.heartbeat_interval == 0.2


def test_config_settle_delay_defaults_to_two_beats():
    assert NodeConfig(heartbeat_interval=0.5).claim_settle_delay == 1.0


def test_config_settle_delay_zero_is_kept():
    assert NodeConfig(settle_delay=0).claim_settle_delay == 0


def test_config_original_name_is_alias():
    assert BaseConfig(heartbeat_interval=0.2) == NodeConfig(heartbeat_interval=0.2)


@pytest.mark.parametrize(
    ("kwargs", "text"),
    [
        (
            {"heartbeat_interval": 0},
            "heartbeat_interval must be a positive number of seconds, got 0",
        ),
        (
            {"heartbeat_interval": "1"},
            "heartbeat_interval must be a positive number of seconds, got '1'",
        ),
        (
            {"heartbeat_interval": math.nan},
            "heartbeat_interval must be a positive number of seconds, got nan",
        ),
        ({"done_ttl": -1}, "done_ttl must be a positive number of seconds, got -1"),
        (
            {"dead_after": True},
            "dead_after must be a positive number of seconds, got True",
        ),
        ({"settle_delay": -0.5}, "settle_delay must be 0 or more seconds, got -0.5"),
        ({"max_attempts": 0}, "max_attempts must be an integer of at least 1, got 0"),
        (
            {"max_attempts": True},
            "max_attempts must be an integer of at least 1, got True",
        ),
        ({"workers": 1.5}, "workers must be an integer of at least 1, got 1.5"),
        (
            {"max_in_flight": 0},
            "max_in_flight must be an integer of at least 1, got 0",
        ),
        (
            {"suspect_after": 10, "dead_after": 5},
            "dead_after (5) must not be less than suspect_after (10)",
        ),
    ],
)
def test_config_invalid_field_rejected(kwargs, text):
    with pytest.raises(ConfigError) as caught:
        NodeConfig(**kwargs)
    assert str(caught.value) == text


@pytest.mark.parametrize("value", ["1", math.nan], ids=["str", "nan"])
def test_config_settle_delay_non_number_rejected(value):
    with pytest.raises(ConfigError):
        NodeConfig(settle_delay=value)
