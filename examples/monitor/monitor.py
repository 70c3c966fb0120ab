"""A decentralized uptime monitor: nodes check the endpoints the cluster announces.

Each node announces the targets it wants watched (its own gossip address, plus
the lines of an optional targets file) as expiring broadcast messages. Every
time slot, each target gets one check job. The job's payload contains the
target and the slot number, so all nodes create the same job and the cluster
runs it once. A failed check creates an alert job. The node that runs it
appends a line to the alerts file and logs a warning.

Run it with `ants run monitor.py`, `ants-tui monitor.py --swarm 3` or
`python run.py`. Settings come from environment variables:

    ANTS_MONITOR_SLOT     slot length in seconds (default 5)
    ANTS_MONITOR_TARGETS  targets file (default: targets.txt beside this file)
    ANTS_MONITOR_ALERTS   alerts file (default: alerts.log in the current directory)
"""

from __future__ import annotations

import dataclasses
import http.client
import logging
import math
import os
import socket
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ants import (
    BaseCommunication,
    BaseNode,
    ConfigError,
    Job,
    JobStatus,
    Message,
    NodeConfig,
)

logger = logging.getLogger(__name__)

DEFAULT_SLOT_SECONDS = 5.0
ANNOUNCE_TTL_SLOTS = 3
"""Lifetime of an announcement, in slots. A node re-announces every slot, so a
target stays watched for two to three slots after its announcer stops, and
those checks are what raise the alert for a stopped node."""
ALERT_WINDOW_SLOTS = 3
"""Failed checks older than this many slots raise no alert. A node that joins
receives the cluster's finished checks and must not alert on old history."""
REALERT_SLOTS = 60
"""While a target stays down, the cluster alerts again after this many slots.
A successful check in between ends the outage, so the next failure alerts at once."""
KEEP_SLOTS = 60
"""Maximum slots a finished check or alert is kept as a tombstone. The node's
`done_ttl` is lowered to this, so a node stores about KEEP_SLOTS check records
per target. It must stay well above one slot, or a finished check could be
purged and run again within its slot."""
MAX_CHECK_TIMEOUT = 3.0
"""Maximum seconds a check may take. A check in a slot shorter than twice this
gets half a slot."""
MAX_PARALLEL_CHECKS = 16
MAX_TARGETS = 500
"""Maximum number of targets watched. Announced targets beyond it are ignored."""
CHECK_ATTEMPTS = 2
"""A check whose owner leaves before finishing runs once more on another node."""
ANNOUNCEMENT_KIND = "ants-monitor/targets"
SCHEMES = ("tcp", "http", "https")


# Settings


@dataclasses.dataclass(frozen=True)
class MonitorSettings:
    """The monitor's settings, read from the environment."""

    slot_seconds: float
    targets_path: Path | None
    """Targets file to read every slot, or None for none."""
    targets_path_is_explicit: bool
    """Whether ANTS_MONITOR_TARGETS set the path. Only then is a missing file logged."""
    alerts_path: Path

    @property
    def check_timeout(self) -> float:
        return min(MAX_CHECK_TIMEOUT, self.slot_seconds / 2)

    @classmethod
    def from_environment(cls) -> MonitorSettings:
        """Read the ANTS_MONITOR_* variables. Raises ConfigError on an invalid slot."""
        slot_text = os.environ.get("ANTS_MONITOR_SLOT", "").strip()
        slot_seconds = DEFAULT_SLOT_SECONDS
        if slot_text:
            try:
                slot_seconds = float(slot_text)
            except ValueError:
                slot_seconds = math.nan
            if not (math.isfinite(slot_seconds) and slot_seconds > 0):
                raise ConfigError(
                    f"invalid ANTS_MONITOR_SLOT {slot_text!r}: "
                    "use a positive number of seconds, e.g. 5"
                )

        targets_text = os.environ.get("ANTS_MONITOR_TARGETS", "").strip()
        if targets_text:
            targets_path: Path | None = Path(targets_text).expanduser().resolve()
        else:
            beside = Path(__file__).resolve().parent / "targets.txt"
            targets_path = beside if beside.is_file() else None

        alerts_text = os.environ.get("ANTS_MONITOR_ALERTS", "").strip() or "alerts.log"
        return cls(
            slot_seconds=slot_seconds,
            targets_path=targets_path,
            targets_path_is_explicit=bool(targets_text),
            alerts_path=Path(alerts_text).expanduser().resolve(),
        )


# Targets


def normalize_target(text: str) -> str:
    """Return a target in canonical form, or raise ValueError saying what is wrong.

    Accepts `tcp://HOST:PORT`, a bare `HOST:PORT` (read as tcp), and
    `http://` or `https://` URLs.
    """
    original = text.strip()
    text = original if "://" in original else "tcp://" + original
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise ValueError(
            f"unsupported scheme {parts.scheme!r} in {original!r}: "
            "use tcp://HOST:PORT, http://... or https://..."
        )
    try:
        port = parts.port
    except ValueError:
        raise ValueError(
            f"invalid port in {original!r}: use a number in 1..65535"
        ) from None
    if not parts.hostname:
        raise ValueError(f"missing host in {original!r}")
    if scheme != "tcp":
        return text
    if port is None:
        raise ValueError(f"missing port in {original!r}: use tcp://HOST:PORT")
    if port == 0:
        raise ValueError(f"invalid port 0 in {original!r}: use a number in 1..65535")
    if parts.path or parts.query:
        raise ValueError(f"a tcp target has no path or query, got {original!r}")
    host = parts.hostname
    if ":" in host:
        host = f"[{host}]"
    return f"tcp://{host}:{port}"


def parse_targets(text: str, source: str = "targets file") -> list[str]:
    """Parse a targets file: one target per line, text after '#' is a comment.

    Invalid lines are skipped and logged as warnings naming `source` and the
    line number. Duplicates are dropped, and the order of first appearance is kept.
    """
    targets: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        content = line.split("#", 1)[0].strip()
        if not content:
            continue
        try:
            target = normalize_target(content)
        except ValueError as exc:
            logger.warning("%s line %d skipped: %s", source, number, exc)
            continue
        if target not in targets:
            targets.append(target)
    return targets


# Checks


def check_target(target: str, timeout: float) -> dict[str, Any]:
    """Check one target and return the job result: target, up, latency_ms and error.

    A tcp target is up when a TCP connection opens. An http(s) target is up when
    a GET, after redirects, returns a status below 400. Proxy variables are
    ignored, so the node itself reaches the target. `latency_ms` is None when
    the target is down, and `error` is None when it is up.
    """
    started = time.monotonic()
    try:
        if target.startswith("tcp://"):
            _connect_tcp(target, timeout)
        else:
            _get_http(target, timeout)
    except (OSError, ValueError, http.client.HTTPException) as exc:
        return {
            "target": target,
            "up": False,
            "latency_ms": None,
            "error": _describe_failure(exc, timeout),
        }
    latency_ms = round((time.monotonic() - started) * 1000, 1)
    return {"target": target, "up": True, "latency_ms": latency_ms, "error": None}


def _connect_tcp(target: str, timeout: float) -> None:
    parts = urlsplit(target)
    if parts.hostname is None or parts.port is None:
        raise ValueError(f"invalid tcp target {target!r}: use tcp://HOST:PORT")
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout):
        pass


_HTTP_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _get_http(url: str, timeout: float) -> None:
    request = urllib.request.Request(url, headers={"User-Agent": "ants-monitor"})
    try:
        with _HTTP_OPENER.open(request, timeout=timeout):
            pass
    except urllib.error.HTTPError as exc:
        # The opener raises HTTPError for statuses of 400 and above.
        exc.close()
        raise


def _describe_failure(exc: BaseException, timeout: float) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        exc = exc.reason if isinstance(exc.reason, BaseException) else exc
    if isinstance(exc, TimeoutError):
        return f"timed out after {timeout:g} s"
    text = f"{type(exc).__name__}: {exc}"
    return " ".join(text.split())


# Outage bookkeeping


class OutageTracker:
    """Per-target history of check results and alerts that decides when to alert.

    The first failed check of an outage alerts. Further failures alert again
    only every REALERT_SLOTS slots. A successful check ends the outage. All
    nodes see every check result and every alert, so their trackers agree,
    and the rare duplicate alert job is merged by its content address.
    """

    def __init__(self, realert_slots: int = REALERT_SLOTS) -> None:
        self.realert_slots = realert_slots
        self._latest: dict[str, tuple[int, bool]] = {}
        """Target -> (slot, up) of its newest known check."""
        self._last_up: dict[str, int] = {}
        self._last_alert: dict[str, int] = {}

    def record_check(self, target: str, slot: int, up: bool) -> bool | None:
        """Store a check result and return the new status if it changed, else None.

        The status is True for up and False for down. A result older than the
        newest known one updates only the history of successful checks.
        """
        if up:
            self._last_up[target] = max(slot, self._last_up.get(target, slot))
        latest = self._latest.get(target)
        if latest is not None and slot < latest[0]:
            return None
        self._latest[target] = (slot, up)
        if latest is None or latest[1] != up:
            return up
        return None

    def record_alert(self, target: str, slot: int) -> None:
        self._last_alert[target] = max(slot, self._last_alert.get(target, slot))

    def should_alert(self, target: str, slot: int) -> bool:
        """Return whether a failed check of `target` in `slot` should raise an alert."""
        last_alert = self._last_alert.get(target)
        if last_alert is None:
            return True
        if slot <= last_alert:
            return False
        recovered = self._last_up.get(target, last_alert) > last_alert
        return recovered or slot - last_alert >= self.realert_slots

    def forget_before(self, slot: int) -> None:
        """Drop targets whose newest check and alert are older than `slot`."""
        for target in list(self._latest.keys() | self._last_alert.keys()):
            newest = max(
                self._latest.get(target, (-1, False))[0],
                self._last_alert.get(target, -1),
            )
            if newest < slot:
                self._latest.pop(target, None)
                self._last_up.pop(target, None)
                self._last_alert.pop(target, None)


# The node


class MonitorNode(BaseNode):
    """Announces targets, checks every announced target once per slot, and alerts."""

    def __init__(
        self,
        config: NodeConfig | None = None,
        communication: BaseCommunication | None = None,
        *,
        node_id: str | None = None,
    ) -> None:
        settings = MonitorSettings.from_environment()
        config = config if config is not None else NodeConfig()
        keep_seconds = KEEP_SLOTS * settings.slot_seconds
        if config.done_ttl > keep_seconds:
            # A copy, so nodes that share one NodeConfig object are not changed.
            config = dataclasses.replace(config, done_ttl=keep_seconds)
        super().__init__(config, communication, node_id=node_id)
        self.settings = settings
        self._reset_monitor_state()

    def _reset_monitor_state(self) -> None:
        self.outages = OutageTracker()
        self.watched: set[str] = set()
        """Targets named by announcements that have not expired."""
        self._created: set[tuple[str, int]] = set()
        self._alerts_to_add: list[Job] = []
        self._announced_slot: int | None = None
        self._file_text: str | None = None
        self._file_targets: list[str] = []
        self._file_problem: str | None = None
        self._own_target_problem: str | None = None
        self._last_slot = -1

    def current_slot(self) -> int:
        return int(time.time() // self.settings.slot_seconds)

    # Hooks

    def on_start(self) -> None:
        interval = self.config.heartbeat_interval
        logger.info(
            "monitor node %s at %s: slot %g s, finished jobs kept %g s, "
            "targets file %s, alerts file %s",
            self.node_id,
            self.communication.advertise_address,
            self.settings.slot_seconds,
            self.config.done_ttl,
            self.settings.targets_path or "none",
            self.settings.alerts_path,
        )
        if self.settings.slot_seconds < 4 * interval:
            logger.warning(
                "slot of %g s is shorter than 4 beats of %g s, so checks lag behind "
                "their slots: raise ANTS_MONITOR_SLOT or lower --interval",
                self.settings.slot_seconds,
                interval,
            )

    def on_stop(self) -> None:
        logger.info("monitor node %s stopped", self.node_id)

    def on_reload(self, old_class: type) -> None:
        self.settings = MonitorSettings.from_environment()
        if not hasattr(self, "outages"):
            self._reset_monitor_state()

    def add_messages(self) -> list[Message]:
        slot = self.current_slot()
        if slot == self._announced_slot:
            return []
        self._announced_slot = slot
        targets = self._own_targets()
        if not targets:
            return []
        body = {"kind": ANNOUNCEMENT_KIND, "targets": targets}
        return [
            Message.create(body, ttl=ANNOUNCE_TTL_SLOTS * self.settings.slot_seconds)
        ]

    def process_messages(self, messages: list[Message]) -> None:
        announced: set[str] = set()
        for message in messages:
            announced.update(self._announced_targets(message))
        if len(announced) > MAX_TARGETS:
            logger.warning(
                "%d targets announced, limit is %d: watching the first %d by name",
                len(announced),
                MAX_TARGETS,
                MAX_TARGETS,
            )
            announced = set(sorted(announced)[:MAX_TARGETS])
        added = sorted(announced - self.watched)
        removed = sorted(self.watched - announced)
        if added:
            logger.info("watching %s", ", ".join(added))
        if removed:
            logger.info("no longer announced, stopped watching %s", ", ".join(removed))
        self.watched = announced

    def add_jobs(self) -> list[Job]:
        slot = self.current_slot()
        if slot != self._last_slot:
            self._last_slot = slot
            self._created = {(t, s) for t, s in self._created if s == slot}
            self.outages.forget_before(slot - KEEP_SLOTS)

        jobs = self._alerts_to_add
        self._alerts_to_add = []
        for target in sorted(self.watched):
            if (target, slot) in self._created:
                continue
            self._created.add((target, slot))
            jobs.append(
                Job(
                    "check",
                    {"target": target, "slot": slot},
                    max_attempts=CHECK_ATTEMPTS,
                    timeout=2 * self.settings.check_timeout
                    + self.settings.slot_seconds,
                )
            )
        return jobs

    def assign_to_jobs(self, pending_jobs: list[Job]) -> list[Job]:
        return [job for job in pending_jobs if job.name in ("check", "alert")]

    def do_jobs(self, my_assigned_jobs: list[Job]) -> None:
        checks = []
        for job in my_assigned_jobs:
            if job.name == "check" and _payload_target(job) is not None:
                checks.append(job)
            elif job.name == "alert" and _payload_target(job) is not None:
                self._write_alert(job)
            else:
                job.set_error(
                    f"invalid monitor job {job.name!r} with payload {job.payload!r}"
                )
        if checks:
            self._run_checks(checks)

    def completed_jobs(self, done_jobs: list[Job]) -> None:
        slot = self.current_slot()
        for job in done_jobs:
            target = _payload_target(job)
            if target is None:
                continue
            if job.name == "check":
                self._note_check(job, target, slot)
            elif job.name == "alert":
                self._note_alert(job, target)

    # Announcements

    def _own_targets(self) -> list[str]:
        targets = []
        own = self._own_target()
        if own is not None:
            targets.append(own)
        for target in self._read_file_targets():
            if target not in targets:
                targets.append(target)
        return targets[:MAX_TARGETS]

    def _own_target(self) -> str | None:
        address = self.communication.advertise_address
        try:
            return normalize_target(address)
        except ValueError as exc:
            problem = (
                f"own address {address!r} is not a tcp target, not announcing it: {exc}"
            )
            if problem != self._own_target_problem:
                self._own_target_problem = problem
                logger.info("%s", problem)
            return None

    def _read_file_targets(self) -> list[str]:
        path = self.settings.targets_path
        if path is None:
            return []
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            problem = f"cannot read targets file {path}: {exc.strerror or exc}"
            if problem != self._file_problem:
                self._file_problem = problem
                if self.settings.targets_path_is_explicit or not isinstance(
                    exc, FileNotFoundError
                ):
                    logger.warning(
                        "%s, so only this node's address is announced", problem
                    )
            self._file_text = None
            self._file_targets = []
            return []
        self._file_problem = None
        if text != self._file_text:
            self._file_text = text
            self._file_targets = parse_targets(text, str(path))
            logger.info("read %d target(s) from %s", len(self._file_targets), path)
        return self._file_targets

    def _announced_targets(self, message: Message) -> list[str]:
        body = message.body
        if not isinstance(body, dict) or body.get("kind") != ANNOUNCEMENT_KIND:
            return []
        targets = body.get("targets")
        if not isinstance(targets, list):
            return []
        valid = []
        for target in targets:
            if not isinstance(target, str):
                continue
            try:
                valid.append(normalize_target(target))
            except ValueError as exc:
                logger.debug(
                    "node %s announced an invalid target: %s", message.sender, exc
                )
        return valid

    # Running jobs

    def _run_checks(self, checks: list[Job]) -> None:
        timeout = self.settings.check_timeout
        workers = min(MAX_PARALLEL_CHECKS, len(checks))
        with ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix="monitor-check"
        ) as pool:
            results = pool.map(
                lambda job: check_target(job.payload["target"], timeout), checks
            )
            for job, result in zip(checks, results, strict=True):
                job.set_result(result)
                logger.debug("checked %s: %s", result["target"], result)

    def _write_alert(self, job: Job) -> None:
        target = job.payload["target"]
        error = " ".join(str(job.payload.get("error") or "down").split())
        stamp = datetime.now(UTC).isoformat(timespec="seconds")
        line = "\t".join([stamp, target, error, self.node_id]) + "\n"
        path = self.settings.alerts_path
        try:
            with path.open("a", encoding="utf-8") as alerts:
                alerts.write(line)
        except OSError as exc:
            job.set_error(
                f"failed to append to alerts file {path}: {exc.strerror or exc}"
            )
            return
        logger.warning("ALERT %s is down: %s (written to %s)", target, error, path)
        job.set_result(
            {"target": target, "written_by": self.node_id, "file": str(path)}
        )

    # Results from the cluster

    def _note_check(self, job: Job, target: str, current_slot: int) -> None:
        result = job.result
        slot = job.payload.get("slot")
        if job.status is not JobStatus.DONE or not isinstance(result, dict):
            logger.info("check of %s failed without a result: %s", target, job.error)
            return
        if not isinstance(slot, int) or not isinstance(result.get("up"), bool):
            return
        up = result["up"]
        changed = self.outages.record_check(target, slot, up)
        if changed is True:
            logger.info("target %s is up (%s ms)", target, result.get("latency_ms"))
        elif changed is False:
            logger.info("target %s is down: %s", target, result.get("error"))
        if up or slot < current_slot - ALERT_WINDOW_SLOTS:
            return
        if not self.outages.should_alert(target, slot):
            logger.debug(
                "target %s still down in slot %d, alert already raised", target, slot
            )
            return
        self.outages.record_alert(target, slot)
        self._alerts_to_add.append(
            Job(
                "alert",
                {
                    "target": target,
                    "slot": slot,
                    "error": str(result.get("error") or "down"),
                },
            )
        )

    def _note_alert(self, job: Job, target: str) -> None:
        slot = job.payload.get("slot")
        if isinstance(slot, int):
            self.outages.record_alert(target, slot)
        if job.status is JobStatus.FAILED:
            logger.error("alert for %s could not be written: %s", target, job.error)


def _payload_target(job: Job) -> str | None:
    payload = job.payload
    if isinstance(payload, dict) and isinstance(payload.get("target"), str):
        return payload["target"]
    return None
