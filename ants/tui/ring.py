"""Finding the new entries of a ring buffer that successive snapshots copy."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, TypeVar


class _Timed(Protocol):
    @property
    def time(self) -> float: ...


T = TypeVar("T", bound=_Timed)


def items_after(items: Sequence[T], last: T | None) -> list[T]:
    """Return the items that follow `last`, oldest first.

    Snapshots copy the node's ring buffers but share the entry objects, so
    `last` is found by identity. When it has already dropped out of the
    buffer, every entry newer than its time is returned.
    """
    if last is None:
        return list(items)
    for index in range(len(items) - 1, -1, -1):
        if items[index] is last:
            return list(items[index + 1 :])
    return [item for item in items if item.time > last.time]
