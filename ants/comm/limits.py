"""Per-peer limits and counts of the TCP transport, in tables of bounded size.

Frame rates are limited per connection and per node id, not per host, so a
peer that floods from one address does not slow down honest nodes on the
same address. Without a cluster key a node id is only claimed, so a flooder
that changes its id on every connection meets only the connection limits.
Every table keyed by host or node id keeps at most MAX_TRACKED_PEERS
entries and drops the least recently used one first, so a stream of new
source addresses or ids cannot grow memory.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, OrderedDict
from typing import Generic, TypeVar

from ants.errors import FrameRateExceeded

logger = logging.getLogger("ants.comm.socket")

MAX_TRACKED_PEERS = 1024
"""Entries kept in each table keyed by host or node id."""
WARNING_INTERVAL = 10.0
"""Seconds between repeated warnings about the same host."""
MAX_AUTH_WARNING_HOSTS = 3
"""Hosts named one by one in the authentication-failure warnings; the rest are summed."""

REJECTION_KINDS = (
    "invalid frame",
    "frame size",
    "incomplete frame",
    "read timeout",
    "authentication",
    "frame rate",
    "connection limit",
)
"""Keys of `PeerGuard.rejections`: why inbound connections were closed."""

K = TypeVar("K")
V = TypeVar("V")


class LruTable(OrderedDict, Generic[K, V]):
    """A dict that keeps its MAX_TRACKED_PEERS most recently set keys."""

    def put(self, key: K, value: V) -> None:
        self[key] = value
        self.move_to_end(key)
        while len(self) > MAX_TRACKED_PEERS:
            self.popitem(last=False)


class TokenBucket:
    """Allows `rate` events per second on average, in bursts of up to `rate` events."""

    __slots__ = ("rate", "tokens", "updated")

    def __init__(self, rate: float, now: float | None = None) -> None:
        self.rate = rate
        self.tokens = rate
        self.updated = time.monotonic() if now is None else now

    def take(self, now: float | None = None) -> bool:
        """Use one token; return False, using none, when the bucket is empty."""
        now = time.monotonic() if now is None else now
        self.tokens = min(self.rate, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


class PeerGuard:
    """Frame-rate limits per node id, rejection counts and warnings, for one node.

    Methods run on the transport's event loop. `auth_failure_warnings` may run
    on any thread, so the authentication counts are guarded by a lock.
    """

    def __init__(self, max_frames_per_second: float) -> None:
        self.max_frames_per_second = max_frames_per_second
        self.rejections: Counter[str] = Counter()
        self.auth_failures: LruTable[str, int] = LruTable()
        """Host -> frames or handshakes from it that failed authentication."""
        self.auth_failures_total = 0
        self._node_buckets: LruTable[str, TokenBucket] = LruTable()
        self._last_warning: LruTable[str, tuple[float, int]] = LruTable()
        """Host -> (monotonic time of its latest warning, warnings suppressed since)."""
        self._lock = threading.Lock()

    def connection_bucket(self) -> TokenBucket:
        return TokenBucket(self.max_frames_per_second)

    def check_connection_rate(self, bucket: TokenBucket, peer: str) -> None:
        if not bucket.take():
            raise FrameRateExceeded(
                f"{peer} sent more than {self.max_frames_per_second:g} frames per second "
                "on one connection (max_frames_per_second)"
            )

    def check_node_rate(self, node_id: str, peer: str) -> None:
        """Raise FrameRateExceeded if `node_id` sent too many frames over all its connections."""
        bucket = self._node_buckets.get(node_id)
        if bucket is None:
            bucket = TokenBucket(self.max_frames_per_second)
        self._node_buckets.put(node_id, bucket)
        if not bucket.take():
            raise FrameRateExceeded(
                f"node {node_id} at {peer} sent more than {self.max_frames_per_second:g} "
                "frames per second (max_frames_per_second)"
            )

    def count_auth_failure(self, host: str) -> None:
        with self._lock:
            self.auth_failures.put(host, self.auth_failures.get(host, 0) + 1)
            self.auth_failures_total += 1

    def auth_failure_warnings(self) -> list[str]:
        """Return lines for the dashboard: the hosts with the most failures, then the rest."""
        with self._lock:
            counts = sorted(self.auth_failures.items(), key=lambda item: (-item[1], item[0]))
            total = self.auth_failures_total
        lines = []
        named = 0
        for host, count in counts[:MAX_AUTH_WARNING_HOSTS]:
            lines.append(f"{count:,} {_frames(count)} failed authentication from {host}")
            named += count
        if total > named:
            rest = total - named
            lines.append(f"{rest:,} more {_frames(rest)} failed authentication from other hosts")
        return lines

    def warn(self, host: str, text: str) -> None:
        """Log `text` as a warning, at most once per WARNING_INTERVAL for each host."""
        now = time.monotonic()
        last, suppressed = self._last_warning.get(host, (-WARNING_INTERVAL, 0))
        if now - last >= WARNING_INTERVAL:
            if suppressed:
                text += f" ({suppressed} similar message(s) from {host} suppressed)"
            logger.warning(text)
            self._last_warning.put(host, (now, 0))
        else:
            self._last_warning.put(host, (last, suppressed + 1))

    def table_sizes(self) -> dict[str, int]:
        """Return the number of entries of each per-peer table, for tests and diagnostics."""
        return {
            "auth_failures": len(self.auth_failures),
            "node_buckets": len(self._node_buckets),
            "last_warning": len(self._last_warning),
        }


def _frames(count: int) -> str:
    return "frame" if count == 1 else "frames"
