"""Tests of examples/monitor: targets, checks, alert policy and a 3-process cluster."""

from __future__ import annotations

import http.server
import importlib.util
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

import pytest

from ants import ConfigError
from ants.node.loader import load_node_class

MONITOR_DIR = Path(__file__).resolve().parents[1] / "examples" / "monitor"
MONITOR_FILE = MONITOR_DIR / "monitor.py"


def _load_monitor_module():
    spec = importlib.util.spec_from_file_location(
        "monitor_example_under_test", MONITOR_FILE
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


monitor = _load_monitor_module()


def _free_ports(count: int) -> list[int]:
    """Return `count` distinct ports that were free on 127.0.0.1 a moment ago."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


# Target parsing


def test_parse_targets_file_format(caplog):
    text = "\n".join(
        [
            "# a comment line",
            "",
            "tcp://127.0.0.1:8080",
            "127.0.0.1:5432   # bare host:port is tcp",
            "http://127.0.0.1:8000/health",
            "https://127.0.0.1:8443/",
            "tcp://127.0.0.1:8080",
            "ftp://127.0.0.1/",
            "tcp://127.0.0.1",
            "tcp://127.0.0.1:70000",
            "tcp://127.0.0.1:0",
            "   ",
        ]
    )

    with caplog.at_level(logging.WARNING):
        targets = monitor.parse_targets(text, "targets.txt")

    assert targets == [
        "tcp://127.0.0.1:8080",
        "tcp://127.0.0.1:5432",
        "http://127.0.0.1:8000/health",
        "https://127.0.0.1:8443/",
    ]
    warnings = [record.getMessage() for record in caplog.records]
    assert len(warnings) == 4
    assert "targets.txt line 8 skipped: unsupported scheme 'ftp'" in warnings[0]
    assert "line 9 skipped: missing port" in warnings[1]
    assert "line 10 skipped: invalid port" in warnings[2]
    assert "line 11 skipped: invalid port 0" in warnings[3]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:9000", "tcp://127.0.0.1:9000"),
        ("TCP://127.0.0.1:9000", "tcp://127.0.0.1:9000"),
        ("[::1]:9000", "tcp://[::1]:9000"),
        ("  http://127.0.0.1:8000/health  ", "http://127.0.0.1:8000/health"),
    ],
)
def test_normalize_target_accepts(text, expected):
    assert monitor.normalize_target(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("127.0.0.1", "missing port in '127.0.0.1'"),
        ("tcp://127.0.0.1:9000/path", "a tcp target has no path or query"),
        ("udp://127.0.0.1:53", "unsupported scheme 'udp'"),
        ("http://:8000/", "missing host"),
    ],
)
def test_normalize_target_rejects(text, message):
    with pytest.raises(ValueError, match=message):
        monitor.normalize_target(text)


def test_targets_file_example_parses_cleanly(caplog):
    text = (MONITOR_DIR / "targets.example.txt").read_text(encoding="utf-8")

    with caplog.at_level(logging.WARNING):
        targets = monitor.parse_targets(text)

    assert targets == [
        "tcp://127.0.0.1:8080",
        "tcp://127.0.0.1:5432",
        "http://127.0.0.1:8000/health",
    ]
    assert caplog.records == []


# Checks


def test_check_tcp_listening_port_is_up():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        target = f"tcp://127.0.0.1:{server.getsockname()[1]}"

        result = monitor.check_target(target, timeout=2.0)

    assert result["target"] == target
    assert result["up"] is True
    assert result["error"] is None
    assert isinstance(result["latency_ms"], float)
    assert result["latency_ms"] >= 0


def test_check_tcp_closed_port_is_down():
    (port,) = _free_ports(1)
    target = f"tcp://127.0.0.1:{port}"

    result = monitor.check_target(target, timeout=2.0)

    assert result["target"] == target
    assert result["up"] is False
    assert result["latency_ms"] is None
    assert "ConnectionRefusedError" in result["error"]


class _StatusHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - the name http.server dispatches to
        status = 200 if self.path == "/health" else 503
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format, *args):  # noqa: A002 - signature of the base class
        pass


@pytest.fixture
def http_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _StatusHandler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_check_http_ok_is_up(http_server):
    result = monitor.check_target(f"{http_server}/health", timeout=2.0)

    assert result["up"] is True
    assert result["error"] is None


def test_check_http_error_status_is_down(http_server):
    result = monitor.check_target(f"{http_server}/down", timeout=2.0)

    assert result["up"] is False
    assert result["error"] == "HTTP 503 Service Unavailable"


def test_check_http_closed_port_is_down():
    (port,) = _free_ports(1)

    result = monitor.check_target(f"http://127.0.0.1:{port}/health", timeout=2.0)

    assert result["up"] is False
    assert "Connection refused" in result["error"]


# Alert policy


def test_outage_tracker_alerts_once_per_outage():
    tracker = monitor.OutageTracker(realert_slots=10)
    target = "tcp://127.0.0.1:9000"

    assert tracker.record_check(target, 1, True) is True
    assert tracker.record_check(target, 2, False) is False
    assert tracker.should_alert(target, 2)
    tracker.record_alert(target, 2)

    assert tracker.record_check(target, 3, False) is None
    assert not tracker.should_alert(target, 3)
    assert not tracker.should_alert(target, 2)
    assert not tracker.should_alert(target, 11)
    assert tracker.should_alert(target, 12)


def test_outage_tracker_alerts_again_after_recovery():
    tracker = monitor.OutageTracker(realert_slots=10)
    target = "tcp://127.0.0.1:9000"
    tracker.record_check(target, 2, False)
    tracker.record_alert(target, 2)

    assert tracker.record_check(target, 3, True) is True
    assert tracker.record_check(target, 4, False) is False
    assert tracker.should_alert(target, 4)


def test_outage_tracker_ignores_older_results():
    tracker = monitor.OutageTracker()
    target = "tcp://127.0.0.1:9000"
    tracker.record_check(target, 5, True)

    assert tracker.record_check(target, 4, False) is None
    tracker.forget_before(6)
    assert tracker.record_check(target, 7, True) is True


# Settings and loading


def test_settings_reject_invalid_slot(monkeypatch):
    monkeypatch.setenv("ANTS_MONITOR_SLOT", "-1")

    with pytest.raises(ConfigError, match="invalid ANTS_MONITOR_SLOT '-1'"):
        monitor.MonitorSettings.from_environment()


def test_settings_read_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("ANTS_MONITOR_SLOT", "1.5")
    monkeypatch.setenv("ANTS_MONITOR_TARGETS", str(tmp_path / "targets.txt"))
    monkeypatch.setenv("ANTS_MONITOR_ALERTS", str(tmp_path / "alerts.log"))

    settings = monitor.MonitorSettings.from_environment()

    assert settings.slot_seconds == 1.5
    assert settings.check_timeout == 0.75
    assert settings.targets_path == tmp_path / "targets.txt"
    assert settings.targets_path_is_explicit
    assert settings.alerts_path == tmp_path / "alerts.log"


def test_monitor_file_loads_one_node_class():
    node_class = load_node_class(MONITOR_FILE)

    assert node_class.__name__ == "MonitorNode"


# A cluster of three processes

STARTED_LINE = re.compile(r"monitor node [0-9a-f]+ at (127\.0\.0\.1:\d+):")


def _start_node(bootstrap: str | None, env: dict, log_path: Path) -> subprocess.Popen:
    command = [
        sys.executable,
        "-m",
        "ants.cli",
        "run",
        str(MONITOR_FILE),
        "--port",
        "0",
        "--interval",
        "0.2",
    ]
    if bootstrap is not None:
        command += ["--bootstrap", bootstrap]
    with log_path.open("w", encoding="utf-8") as log:
        return subprocess.Popen(
            command, env=env, cwd=log_path.parent, stdout=log, stderr=subprocess.STDOUT
        )


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ""


def _logs_tail(logs: list[Path], lines: int = 25) -> str:
    parts = []
    for log in logs:
        tail = "\n".join(_read(log).splitlines()[-lines:])
        parts.append(f"--- {log.name} ---\n{tail}")
    return "\n".join(parts)


def _wait_for_address(process: subprocess.Popen, log: Path, timeout: float) -> str:
    """Return the address the node logged on start, where it reports its free port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        match = STARTED_LINE.search(_read(log))
        if match:
            return match.group(1)
        assert process.poll() is None, f"node exited early\n{_logs_tail([log])}"
        time.sleep(0.05)
    pytest.fail(f"node did not log its address within {timeout} s\n{_logs_tail([log])}")


def _monitor_env(tmp_path: Path) -> dict[str, str]:
    """Return an environment for monitor processes that write only under `tmp_path`."""
    empty_targets = tmp_path / "targets.txt"
    empty_targets.write_text("# no extra targets\n", encoding="utf-8")
    env = dict(os.environ)
    env.update(
        {
            "ANTS_MONITOR_SLOT": "1",
            "ANTS_MONITOR_ALERTS": str(tmp_path / "alerts.log"),
            "ANTS_MONITOR_TARGETS": str(empty_targets),
        }
    )
    return env


@pytest.mark.timeout(30)
def test_run_script_stops_on_sigterm(tmp_path):
    log = tmp_path / "run.log"
    with log.open("w", encoding="utf-8") as output:
        process = subprocess.Popen(
            [sys.executable, "run.py", "--port", "0", "--interval", "0.2"],
            cwd=MONITOR_DIR,
            env=_monitor_env(tmp_path),
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        address = _wait_for_address(process, log, timeout=15)
        process.send_signal(signal.SIGTERM)
        exit_code = process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=5)

    assert address.startswith("127.0.0.1:")
    assert exit_code == 0, _logs_tail([log])
    assert re.search(r"monitor node [0-9a-f]+ stopped", _read(log)), _logs_tail([log])


@pytest.mark.slow
@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    "stop_signal", [signal.SIGTERM, signal.SIGKILL], ids=["term", "kill"]
)
def test_stopped_node_raises_alert(tmp_path, stop_signal):
    alerts = tmp_path / "alerts.log"
    env = _monitor_env(tmp_path)
    logs = [tmp_path / f"node{index}.log" for index in range(3)]
    processes: list[subprocess.Popen] = []
    try:
        processes.append(_start_node(None, env, logs[0]))
        first = _wait_for_address(processes[0], logs[0], timeout=15)
        for index in (1, 2):
            processes.append(_start_node(first, env, logs[index]))
        addresses = [first] + [
            _wait_for_address(processes[index], logs[index], timeout=15)
            for index in (1, 2)
        ]
        targets = [f"tcp://{address}" for address in addresses]

        # Wait until every node has seen a successful check of every address.
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            texts = [_read(log) for log in logs]
            if all(f"target {t} is up" in text for text in texts for t in targets):
                break
            for process in processes:
                assert process.poll() is None, _logs_tail(logs)
            time.sleep(0.1)
        else:
            pytest.fail(
                "checks of all three nodes did not succeed within 20 s\n"
                + _logs_tail(logs)
            )
        assert _read(alerts) == ""

        stopped = processes[2]
        stopped.send_signal(stop_signal)
        stopped.wait(timeout=10)

        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if targets[2] in _read(alerts):
                break
            time.sleep(0.1)
        else:
            pytest.fail(f"no alert for {targets[2]} within 20 s\n" + _logs_tail(logs))

        alert_lines = _read(alerts).splitlines()
        stopped_alerts = [line for line in alert_lines if targets[2] in line]
        fields = stopped_alerts[0].split("\t")
        assert len(fields) == 4, stopped_alerts[0]
        assert datetime.fromisoformat(fields[0]).tzinfo is not None
        assert fields[1] == targets[2]
        assert "refused" in fields[2].lower()
        assert re.fullmatch(r"[0-9a-f]+", fields[3]), fields[3]
        for live_target in targets[:2]:
            assert not [line for line in alert_lines if live_target in line], (
                alert_lines
            )
    finally:
        for process in processes:
            if process.poll() is None:
                process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
