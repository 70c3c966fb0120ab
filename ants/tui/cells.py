"""Table cells that carry the key their row sorts by."""

from __future__ import annotations

from typing import Any

from rich.text import Text


class KeyedText(Text):
    """Rich text with a `sort_key`, for the first cell of a DataTable row.

    `DataTable.sort` hands its key function cell values, not row keys, so a
    row's place in the order travels in one of its cells. Two cells are
    equal only when their text, styles and sort keys are equal.
    """

    __slots__ = ("sort_key",)

    def __init__(self, text: str, sort_key: Any, style: str = "") -> None:
        super().__init__(text, style=style)
        self.sort_key = sort_key

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, KeyedText):
            return NotImplemented
        return self.sort_key == other.sort_key and super().__eq__(other)

    __hash__ = None  # type: ignore[assignment]


def sort_key_of(cell: object) -> Any:
    """Return a KeyedText's sort key; DataTable.sort passes this the first cell."""
    return cell.sort_key if isinstance(cell, KeyedText) else ()


def plain(cell: object) -> str:
    """Return a cell's text without styles."""
    return cell.plain if isinstance(cell, Text) else str(cell)
