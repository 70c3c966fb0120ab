"""Node ids, kept across restarts when the node has a data directory."""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows has no flock; the folder is then not locked.
    fcntl = None

from ants.errors import ConfigError

NODE_ID_PATTERN = re.compile(r"[0-9a-f]{16}")
"""A node id: 64 random bits as 16 lowercase hex characters."""


def is_node_id(value: object) -> bool:
    return isinstance(value, str) and NODE_ID_PATTERN.fullmatch(value) is not None


def new_node_id() -> str:
    """Return a random 64-bit node id as 16 hex characters."""
    return secrets.token_hex(8)


_held_locks: list = []
"""Open lock files of the data directories this process uses; closed at exit."""


def load_node_id(data_dir: str | Path) -> str:
    """Return the node id stored in `data_dir`, creating the folder and id if missing.

    The folder is locked for the life of the process, so a second node
    started with the same folder fails here instead of running under the
    same id.
    """
    folder = Path(data_dir)
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"data directory {folder} is a file; give a folder path")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"cannot create data directory {folder}: {exc.strerror}"
        ) from exc
    _lock(folder)
    path = folder / "node_id"
    if path.exists():
        text = path.read_text().strip()
        if not is_node_id(text):
            raise ConfigError(
                f"{path} contains {text[:40]!r}, not a node id of 16 hex characters; "
                "delete the file to get a new id"
            )
        return text
    node_id = new_node_id()
    temporary = path.with_suffix(".tmp")
    temporary.write_text(node_id + "\n")
    os.replace(temporary, path)
    return node_id


def _lock(folder: Path) -> None:
    if fcntl is None:
        return
    path = folder / "lock"
    lock_file = open(path, "a+")
    try:
        fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock_file.seek(0)
        holder = lock_file.read().strip() or "another process"
        lock_file.close()
        raise ConfigError(
            f"data directory {folder} is in use by {holder}; two nodes with one "
            "folder would share a node id, so give each node its own --data-dir"
        ) from None
    lock_file.seek(0)
    lock_file.truncate()
    lock_file.write(f"process {os.getpid()}\n")
    lock_file.flush()
    _held_locks.append(lock_file)
