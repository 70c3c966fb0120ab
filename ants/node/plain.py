"""Plain-data checks and the canonical encoding that job ids hash."""

from __future__ import annotations

import math
import threading
from typing import Any

import msgpack

from ants.errors import PayloadError

PlainData = None | bool | int | float | str | bytes | list | dict
"""The values a payload, result or message body may contain."""

MAX_DEPTH = 32
"""Maximum nesting of lists and dicts in plain data."""

_INT_MIN = -(2**63)
_INT_MAX = 2**64 - 1
_SHORT_TEXT_CHARS = 40
_local = threading.local()


def is_plain(value: Any, depth: int = 0) -> bool:
    """Return whether `value` passes `check_plain` unchanged, without copying it.

    Decoded frames contain lists and dicts only, so this check is enough for
    them. `check_plain` then runs only to name the path of a bad value.
    """
    if depth > MAX_DEPTH:
        return False
    if value is None or isinstance(value, (bool, str, bytes, float)):
        return True
    if isinstance(value, int):
        return _INT_MIN <= value <= _INT_MAX
    if isinstance(value, list):
        return all(is_plain(item, depth + 1) for item in value)
    if isinstance(value, dict):
        return all(
            isinstance(key, str) and is_plain(item, depth + 1) for key, item in value.items()
        )
    return False


def check_plain(value: Any, path: str = "payload", depth: int = 0) -> Any:
    """Return `value` with tuples turned into lists, or raise PayloadError.

    The error names the path of the first value that is not plain data, for
    example ``payload["hosts"][2]``.
    """
    if depth > MAX_DEPTH:
        raise PayloadError(f"{path} is nested deeper than {MAX_DEPTH} levels (MAX_DEPTH)")
    if value is None or isinstance(value, (bool, str, bytes)):
        return value
    if isinstance(value, int):
        if not _INT_MIN <= value <= _INT_MAX:
            raise PayloadError(
                f"{path} is {value}, outside the 64-bit integer range; "
                "store it as a string"
            )
        return value
    if isinstance(value, float):
        return value
    if isinstance(value, (list, tuple)):
        return [
            check_plain(item, f"{path}[{index}]", depth + 1)
            for index, item in enumerate(value)
        ]
    if isinstance(value, dict):
        checked = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise PayloadError(
                    f"{path} has a key {key!r} of type {type(key).__name__}; "
                    "dict keys must be str"
                )
            checked[key] = check_plain(item, f"{path}[{key!r}]", depth + 1)
        return checked
    raise PayloadError(
        f"{path} is a {type(value).__module__}.{type(value).__qualname__}, which is "
        "not plain data; use dict, list, str, int, float, bool, None or bytes"
    )


def _canonical(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _canonical(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_canonical(item) for item in value]
    if isinstance(value, float) and math.isnan(value):
        # Every NaN packs as the same bits, and never as a value of another type.
        return math.nan
    return value


def canonical_bytes(value: Any) -> bytes:
    """Encode checked plain data so that equal values give equal bytes.

    Dict keys are packed in sorted order, so insertion order does not matter.
    """
    return msgpack.packb(_canonical(value), use_bin_type=True)


def encoded_size(value: Any) -> int:
    """Return the length of `canonical_bytes(value)` for plain data, without sorting keys.

    Key order and the choice among NaN bit patterns do not change the size of
    a msgpack encoding, so packing `value` as it is gives the same length.
    """
    packer = getattr(_local, "packer", None)
    if packer is None:
        # One packer per thread, because a Packer keeps an internal buffer.
        packer = _local.packer = msgpack.Packer(use_bin_type=True)
    return len(packer.pack(value))


def short_repr(value: Any) -> str:
    """Return a repr of `value` cut for a log line, safe on huge or deeply nested input.

    Containers are described by type and length instead of their items, so
    no recursion into peer-supplied data takes place.
    """
    if isinstance(value, (str, bytes)):
        if len(value) <= _SHORT_TEXT_CHARS:
            return repr(value)
        return f"{value[:_SHORT_TEXT_CHARS]!r}... ({len(value):,} {_unit(value)})"
    if isinstance(value, (list, tuple, dict)):
        return f"a {type(value).__name__} of {len(value):,} items"
    if isinstance(value, (bool, int, float)) or value is None:
        text = repr(value)
        if len(text) > _SHORT_TEXT_CHARS:
            return text[:_SHORT_TEXT_CHARS] + "..."
        return text
    return f"a {type(value).__name__}"


def _unit(value: str | bytes) -> str:
    return "characters" if isinstance(value, str) else "bytes"
