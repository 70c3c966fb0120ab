"""The transport interface a node talks through."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ants.node.config import NodeConfig
    from ants.node.snapshot import MemberView, TrafficEvent
    from ants.node.state import Delta, State


class BaseCommunication:
    """Moves state between nodes. Subclasses implement `pull` and `broadcast`.

    Everything else has a default, so a small custom transport works: it
    then has no membership, so jobs of a vanished node are not re-queued.
    """

    notify: Callable[[], None] | None = None
    """Set by the node: call it when `pull` has something new, to be served early."""

    def pull(self) -> list[State | Delta]:
        """Return the states or deltas received from peers since the last call."""
        raise NotImplementedError

    def broadcast(self, state: State) -> None:
        """Offer this node's state to peers; called once per beat."""
        raise NotImplementedError

    def start(self, node_id: str) -> None:
        """Start serving as `node_id`; called once by the node before its first beat."""

    def apply_config(self, config: NodeConfig) -> None:
        """Take the node's membership timing; called before `start`."""

    def stop(self) -> None:
        """Announce departure and release sockets; called once on shutdown."""

    def members(self) -> list[MemberView]:
        """Return the member table, this node included; empty without membership."""
        return []

    def sync_behind(self) -> int:
        """Return how many records peers have advertised and this node lacks, at most.

        0 for a transport without digests, which cannot tell.
        """
        return 0

    def traffic(self) -> list[TrafficEvent]:
        """Return the latest exchanges, oldest first."""
        return []

    def rates(self) -> list[tuple[float, int, int, int, int]]:
        """Return per-second (second, bytes_out, bytes_in, records_out, records_in)."""
        return []

    @property
    def listen_address(self) -> str:
        return "-"

    @property
    def advertise_address(self) -> str:
        return self.listen_address

    @property
    def warnings(self) -> list[str]:
        """Problems worth showing in the dashboard header."""
        return []
