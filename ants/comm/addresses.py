"""Parsing and checking host:port addresses."""

from __future__ import annotations

import ipaddress

from ants.errors import ConfigError


def parse_address(value: object, what: str = "address") -> tuple[str, int]:
    """Parse "host:port", "[v6]:port" or a (host, port) pair; raise ConfigError if invalid."""
    if isinstance(value, (tuple, list)) and len(value) == 2:
        host, port = value
    elif isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            host, _, rest = text[1:].partition("]")
            if not rest.startswith(":"):
                raise ConfigError(f"invalid {what} {value!r}: expected [host]:port")
            port = rest[1:]
        else:
            host, sep, port = text.rpartition(":")
            if not sep:
                raise ConfigError(f"invalid {what} {value!r}: expected host:port, e.g. 127.0.0.1:9000")
    else:
        raise ConfigError(f"invalid {what} {value!r}: expected a 'host:port' string")
    if not isinstance(host, str) or not host or any(c.isspace() for c in host):
        raise ConfigError(f"invalid {what} {value!r}: the host is empty or contains spaces")
    if "/" in host:
        raise ConfigError(
            f"invalid {what} {value!r}: give host:port without a scheme or path, "
            "e.g. 127.0.0.1:9000"
        )
    try:
        port_number = int(port)
    except (TypeError, ValueError):
        raise ConfigError(f"invalid {what} {value!r}: port {port!r} is not a number") from None
    if not 1 <= port_number <= 65535:
        raise ConfigError(f"invalid {what} {value!r}: port {port_number} is outside 1..65535")
    return host, port_number


def format_address(host: str, port: int) -> str:
    if ":" in host:
        return f"[{host}]:{port}"
    return f"{host}:{port}"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
