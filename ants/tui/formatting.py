"""Short text forms of ids, sizes, times and values for the dashboard's cells."""

from __future__ import annotations

import json
import time
from typing import Any

ELLIPSIS = "…"


def short_id(value: str | None, length: int = 8) -> str:
    """Return the first `length` characters of an id, or "-" for None."""
    if not value:
        return "-"
    return value[:length]


def format_bytes(count: float, compact: bool = False) -> str:
    """Format a byte count with a decimal unit: "512 B", "1.2 kB", "3.4 MB".

    `compact` drops the space and the B of multiples: "512B", "1.2k", "3.4M".
    """
    space = "" if compact else " "
    if count < 1000:
        return f"{count:.0f}{space}B"
    for unit in ("k", "M", "G"):
        count /= 1000
        if count < 1000:
            return f"{count:.1f}{space}{unit}" + ("" if compact else "B")
    return f"{count:.1f}{space}T" + ("" if compact else "B")


def format_duration(seconds: float | None) -> str:
    """Format a duration at a precision that suits its size: "850ms", "3m05s"."""
    if seconds is None:
        return "-"
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:.1f}s"
    whole = int(seconds)
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    if whole < 86400:
        return f"{whole // 3600}h{whole % 3600 // 60:02d}m"
    return f"{whole // 86400}d{whole % 86400 // 3600:02d}h"


def format_age(seconds: float | None) -> str:
    """Format an age coarsely ("12s", "5m", "2h", "3d"), so it changes rarely."""
    if seconds is None:
        return "-"
    whole = max(0, int(seconds))
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m"
    if whole < 86400:
        return f"{whole // 3600}h"
    return f"{whole // 86400}d"


def format_clock(timestamp: float | None) -> str:
    """Format a wall-clock time as local HH:MM:SS, or "-" for None."""
    if timestamp is None:
        return "-"
    return time.strftime("%H:%M:%S", time.localtime(timestamp))


def format_datetime(timestamp: float | None) -> str:
    """Format a wall-clock time as a local date and time with milliseconds."""
    if timestamp is None:
        return "-"
    millis = int((timestamp % 1) * 1000)
    return (
        time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(timestamp)) + f".{millis:03d}"
    )


def truncate(text: str, width: int) -> str:
    """Cut `text` to at most `width` characters, ending with an ellipsis when cut."""
    if len(text) <= width:
        return text
    return text[: max(0, width - 1)] + ELLIPSIS


def compact_json(value: Any) -> str:
    """Encode a plain value on one line; bytes and other non-JSON values use repr."""
    try:
        return json.dumps(value, separators=(",", ":"), sort_keys=True, default=repr)
    except (TypeError, ValueError):
        return repr(value)


def last_line(text: str | None) -> str:
    """Return the last non-blank line of a message or traceback, or "" for None."""
    if not text:
        return ""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def app_clock(app: object) -> float:
    """Return the wall-clock time from `app.clock` when the app has one, else time.time()."""
    clock = getattr(app, "clock", None)
    return clock() if callable(clock) else time.time()
