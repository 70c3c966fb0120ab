"""Node configuration: one dataclass whose fields state their unit."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

from ants.errors import ConfigError


@dataclass
class NodeConfig:
    """Settings of one node's runtime. Times are in seconds.

    `heartbeat_interval` keeps the name the original ants used for the beat.
    """

    heartbeat_interval: float = 1.0
    """Seconds between beats; each beat runs the hooks and gossips once."""
    settle_delay: float | None = None
    """Seconds a claim waits for competing claims before its job runs. None
    means the time a claim takes to reach every live member by gossip: one
    beat plus ceil(log(members) / log(fanout + 1)) rounds, at least two beats."""
    max_attempts: int = 3
    """Attempts a job gets when it does not set its own; then it is failed."""
    done_ttl: float = 3600.0
    """Seconds a finished job is kept as a tombstone; re-adding it meanwhile is a no-op."""
    message_ttl: float = 30.0
    """Default lifetime of broadcast messages, in seconds."""
    max_in_flight: int = 256
    """Jobs this node may own unfinished at once. Below this cap the runtime claims
    about as many jobs as its workers finish in one settle delay plus two beats,
    judged from the measured job duration, so a node does not hoard work it
    cannot start. Until a job has been timed it takes two per worker."""
    claims_per_beat: int = 256
    """Claims this node writes per beat at most."""
    workers: int = 1
    """Threads that run do_jobs; above 1, do_jobs is called concurrently."""
    suspect_after: float = 5.0
    """Seconds without a rising heartbeat before a peer is suspect."""
    dead_after: float = 15.0
    """Seconds without a rising heartbeat before a peer is dead and its jobs re-queued."""
    forget_after: float = 600.0
    """Seconds after which a dead or departed peer is dropped from the member table."""
    observe: bool = False
    """Watch only: gossip and show everything, never claim or create jobs."""
    events_kept: int = 2000
    """Size of the ring buffer of recent node events the dashboard replays."""

    def __post_init__(self) -> None:
        positive = ("heartbeat_interval", "done_ttl", "message_ttl", "suspect_after",
                    "dead_after", "forget_after")
        for name in positive:
            value = getattr(self, name)
            if (
                not isinstance(value, (int, float))
                or isinstance(value, bool)
                or not 0 < value < math.inf
            ):
                raise ConfigError(f"{name} must be a positive number of seconds, got {value!r}")
        settle = self.settle_delay
        if settle is not None and (
            not isinstance(settle, (int, float))
            or isinstance(settle, bool)
            or not 0 <= settle < math.inf
        ):
            raise ConfigError(f"settle_delay must be 0 or more seconds, got {settle!r}")
        for name in ("max_attempts", "max_in_flight", "claims_per_beat", "workers", "events_kept"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"{name} must be an integer of at least 1, got {value!r}")
        if self.dead_after < self.suspect_after:
            raise ConfigError(
                f"dead_after ({self.dead_after}) must not be less than "
                f"suspect_after ({self.suspect_after})"
            )

    @property
    def claim_settle_delay(self) -> float:
        return self.settle_delay_for(1, 1)

    def settle_delay_for(self, members: int, fanout: int) -> float:
        """Return the settle delay for a cluster of `members` nodes gossiping to `fanout` peers."""
        if self.settle_delay is not None:
            return self.settle_delay
        rounds = math.ceil(math.log(max(members, 2)) / math.log(max(fanout, 1) + 1))
        return max(2, 1 + rounds) * self.heartbeat_interval

    @classmethod
    def local(cls, **overrides: object) -> NodeConfig:
        """Return fast settings for tests and demos on one machine."""
        settings: dict[str, object] = {
            "heartbeat_interval": 0.2,
            "suspect_after": 1.5,
            "dead_after": 3.0,
            "forget_after": 60.0,
        }
        settings.update(overrides)
        return cls(**settings)  # type: ignore[arg-type]

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in fields(cls)]


BaseConfig = NodeConfig
"""The original ants name of the node configuration."""
