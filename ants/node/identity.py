"""Node ids, kept across restarts when the node has a data directory."""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path

from ants.errors import ConfigError

NODE_ID_PATTERN = re.compile(r"[0-9a-f]{16}")
"""A node id: 64 random bits as 16 lowercase hex characters."""


def is_node_id(value: object) -> bool:
    return isinstance(value, str) and NODE_ID_PATTERN.fullmatch(value) is not None


def new_node_id() -> str:
    """Return a random 64-bit node id as 16 hex characters."""
    return secrets.token_hex(8)


def load_node_id(data_dir: str | Path) -> str:
    """Return the node id stored in `data_dir`, creating the folder and id if missing."""
    folder = Path(data_dir)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create data directory {folder}: {exc.strerror}") from exc
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
