"""A logging handler that keeps recent records for the dashboard's log panel.

Node threads, the reload watcher and user hooks log through the standard
`logging` module. The handler formats each record in the thread that logged
it and appends it to a bounded deque, so logging never waits for the UI. The
UI timer takes the lines out with `drain`.
"""

from __future__ import annotations

import io
import logging
import threading
from collections import deque
from dataclasses import dataclass

LOG_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
DATE_FORMAT = "%H:%M:%S"


@dataclass(frozen=True, slots=True)
class LogLine:
    """One formatted record; `text` may span several lines (a traceback)."""

    level: int
    text: str


class LogBuffer(logging.Handler):
    """Keep the latest `capacity` formatted log records; count the ones dropped.

    Args:
        capacity: Records kept until the UI drains them; older ones are dropped.
    """

    def __init__(self, capacity: int = 2000) -> None:
        super().__init__()
        self.setFormatter(logging.Formatter(LOG_FORMAT, DATE_FORMAT))
        self._lines: deque[LogLine] = deque(maxlen=capacity)
        self._dropped = 0
        self._count_lock = threading.Lock()
        self._installed_on: logging.Logger | None = None
        self._previous_level: int | None = None

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
        except Exception:
            self.handleError(record)
            return
        if len(self._lines) == self._lines.maxlen:
            with self._count_lock:
                self._dropped += 1
        # deque.append is atomic in CPython, so no lock is needed against drain().
        self._lines.append(LogLine(record.levelno, text))

    def drain(self, limit: int | None = None) -> tuple[list[LogLine], int]:
        """Remove and return up to `limit` lines, oldest first, and the drop count.

        The drop count is the number of records lost to the capacity since the
        previous call.
        """
        lines: list[LogLine] = []
        while self._lines and (limit is None or len(lines) < limit):
            try:
                lines.append(self._lines.popleft())
            except IndexError:
                break
        with self._count_lock:
            dropped, self._dropped = self._dropped, 0
        return lines, dropped

    def install(self, level: int | str = logging.INFO) -> None:
        """Attach to the root logger and lower its level to `level` if needed.

        Installing first makes a later `logging.basicConfig()` in the user's
        node file a no-op, so nothing writes over the terminal the UI draws on.
        """
        if self._installed_on is not None:
            return
        root = logging.getLogger()
        numeric = logging.getLevelName(level) if isinstance(level, str) else level
        self.setLevel(numeric)
        self._previous_level = root.level
        if root.level == logging.NOTSET or root.level > numeric:
            root.setLevel(numeric)
        root.addHandler(self)
        self._installed_on = root

    def uninstall(self) -> None:
        """Detach from the root logger and restore the level it had before."""
        root = self._installed_on
        if root is None:
            return
        root.removeHandler(self)
        if self._previous_level is not None:
            root.setLevel(self._previous_level)
        self._installed_on = None


class PrintToLog(io.TextIOBase):
    """A stream that logs each complete line written to it, to `logger`.

    `ants-tui` puts it in place of sys.stdout and sys.stderr from before the
    node starts until the dashboard captures print() itself, so that output
    from the first beats reaches the log panel rather than the terminal
    under the dashboard.
    """

    def __init__(self, logger: logging.Logger, level: int) -> None:
        super().__init__()
        self._logger = logger
        self._level = level
        self._partial = ""
        self._lock = threading.Lock()

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        with self._lock:
            *lines, self._partial = (self._partial + text).split("\n")
        for line in lines:
            if line.strip():
                self._logger.log(self._level, line)
        return len(text)

    def flush(self) -> None:
        with self._lock:
            line, self._partial = self._partial, ""
        if line.strip():
            self._logger.log(self._level, line)
