"""The exceptions ants raises.

    AntsError
    ├── ConfigError          an invalid setting or command-line value
    ├── JobError             an invalid job, payload or result
    │   └── PayloadError     a value that is not plain data
    ├── NodeLoadError        a node file that cannot be imported or has no node class
    ├── TransportError       a socket or address problem
    └── ProtocolError        a peer sent a frame or record that breaks the protocol
        ├── FrameTooLarge    a frame over the size limit
        ├── IncompleteFrame  a connection closed inside a frame
        └── FrameRateExceeded  a peer over the frames-per-second limit
"""

from __future__ import annotations


class AntsError(Exception):
    """Base class of every error ants raises on purpose."""


class ConfigError(AntsError, ValueError):
    """An invalid configuration field or command-line value."""


class JobError(AntsError, ValueError):
    """An invalid job, payload or result."""


class PayloadError(JobError, TypeError):
    """A payload or result that is not plain data; the message names the path."""


class NodeLoadError(AntsError):
    """A node file that cannot be read, compiled, imported or has no node class.

    Attributes:
        path: The file that failed.
        lineno: The line of a syntax error, when known.
        details: The formatted traceback, for display.
    """

    def __init__(
        self, message: str, path: str, lineno: int | None = None, details: str = ""
    ) -> None:
        super().__init__(message)
        self.path = path
        self.lineno = lineno
        self.details = details


class TransportError(AntsError):
    """A socket, address or connection problem."""


class ProtocolError(AntsError):
    """A frame or record from a peer that breaks the protocol."""


class FrameTooLarge(ProtocolError):
    """A frame whose length prefix is over the frame size limit."""


class IncompleteFrame(ProtocolError):
    """A connection that closed after part of a frame."""


class FrameRateExceeded(ProtocolError):
    """A connection or node id that sent more frames per second than allowed."""
