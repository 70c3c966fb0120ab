"""Export of the jobs panel's view to CSV or JSON Lines, and export file names.

Both formats carry the same fields per job, in the jobs panel's order:
id, name, status, attempt (from 0), max_attempts, owner, creator, created,
finished (ISO 8601 in UTC), timeout (seconds), payload, result and error.
In CSV the payload and result are JSON text; in JSON Lines they are JSON
values. Values JSON cannot hold, such as bytes, are written as their repr.
"""

from __future__ import annotations

import csv
import datetime
import enum
import json
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ants.node.job import JobRecord
from ants.tui.formatting import compact_json

FIELDS = (
    "id",
    "name",
    "status",
    "attempt",
    "max_attempts",
    "owner",
    "creator",
    "created",
    "finished",
    "timeout",
    "payload",
    "result",
    "error",
)
"""Columns of a CSV export and keys of each JSON Lines object, in order."""


class ExportFormat(enum.Enum):
    """A file format for exported jobs; the value is the file suffix."""

    CSV = "csv"
    JSON_LINES = "jsonl"


def timestamped_name(stem: str, suffix: str, now: float | None = None) -> str:
    """Return a file name such as "ants-jobs-20261204-181500.csv" in local time."""
    now = time.time() if now is None else now
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    return f"{stem}-{stamp}.{suffix}"


def free_path(folder: Path, name: str) -> Path:
    """Return `folder / name`, or with "-2", "-3"... before the suffix if it exists."""
    path = folder / name
    number = 2
    while path.exists():
        stem, dot, suffix = name.rpartition(".")
        path = folder / f"{stem}-{number}{dot}{suffix}"
        number += 1
    return path


def export_jobs(
    records: Iterable[JobRecord],
    folder: Path,
    formats: Iterable[ExportFormat],
    now: float | None = None,
) -> list[Path]:
    """Write `records` to a new file per format in `folder`; return the paths.

    Raises OSError when the folder is missing or a file cannot be written.
    """
    records = list(records)
    if not folder.is_dir():
        raise NotADirectoryError(
            f"export folder {folder} does not exist or is not a folder; choose another"
        )
    paths = []
    for export_format in formats:
        path = free_path(
            folder, timestamped_name("ants-jobs", export_format.value, now)
        )
        if export_format is ExportFormat.CSV:
            write_csv(records, path)
        else:
            write_json_lines(records, path)
        paths.append(path)
    return paths


def write_csv(records: Iterable[JobRecord], path: Path) -> None:
    """Write a header row and one row per record to a new file at `path`."""
    with path.open("x", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(FIELDS)
        for record in records:
            fields = _fields(record)
            fields["payload"] = compact_json(record.payload)
            fields["result"] = (
                "" if record.result is None else compact_json(record.result)
            )
            writer.writerow(
                ["" if fields[name] is None else fields[name] for name in FIELDS]
            )


def write_json_lines(records: Iterable[JobRecord], path: Path) -> None:
    """Write one JSON object per record and line to a new file at `path`."""
    with path.open("x", encoding="utf-8") as file:
        for record in records:
            file.write(json.dumps(_fields(record), default=repr, ensure_ascii=False))
            file.write("\n")


def _fields(record: JobRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "name": record.name,
        "status": record.status.name.lower(),
        "attempt": record.attempt,
        "max_attempts": record.max_attempts,
        "owner": record.owner,
        "creator": record.creator,
        "created": _iso_time(record.created),
        "finished": _iso_time(record.finished),
        "timeout": record.timeout,
        "payload": record.payload,
        "result": record.result,
        "error": record.error,
    }


def _iso_time(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    moment = datetime.datetime.fromtimestamp(timestamp, tz=datetime.UTC)
    return moment.isoformat(timespec="milliseconds")
