"""The `ants run` command: bad input, node files that fail to load, and signals."""

from __future__ import annotations

import base64
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import wait_for_listening, wait_until, write_node_file

import ants
from ants.cli import main, make_parser
from ants.comm.crypto import Keyring, generate_key
from ants.errors import ConfigError
from ants.options import build_node, load_keyring

RUN_TIMEOUT = 30.0


def run_ants(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run `python -m ants.cli` to completion and capture its output."""
    return subprocess.run(
        [sys.executable, "-m", "ants.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        stdin=subprocess.DEVNULL,
    )


# Argument parsing


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (
            "nohost",
            "argument --bootstrap: invalid address 'nohost': expected host:port",
        ),
        (
            "host:99999",
            "invalid address 'host:99999': port 99999 is outside 1..65535",
        ),
        (
            "host:abc",
            "invalid address 'host:abc': port 'abc' is not a number",
        ),
        (
            "http://127.0.0.1:9000",
            "invalid address 'http://127.0.0.1:9000': give host:port without a scheme",
        ),
    ],
)
def test_run_bad_bootstrap_rejected(capsys, value, text):
    with pytest.raises(SystemExit) as caught:
        make_parser().parse_args(["run", "node.py", "--bootstrap", value])
    assert caught.value.code == 2
    stderr = capsys.readouterr().err
    assert "argument --bootstrap" in stderr
    assert text in stderr


@pytest.mark.parametrize(
    ("option", "value", "text"),
    [
        ("--port", "abc", "invalid port 'abc': expected a number"),
        ("--port", "70000", "invalid port 70000: use 0..65535"),
        ("--interval", "0", "0 is outside 0.01..86400 seconds"),
        ("--interval", "fast", "invalid number 'fast'"),
        ("--interval", "inf", "inf is outside 0.01..86400 seconds"),
        ("--forget-after", "soon", "invalid number 'soon'"),
        ("--forget-after", "0", "0 is outside 0.01..86400 seconds"),
        ("--forget-after", "-5", "-5 is outside 0.01..86400 seconds"),
        ("--forget-after", "nan", "nan is outside 0.01..86400 seconds"),
    ],
)
def test_run_bad_option_rejected(capsys, option, value, text):
    with pytest.raises(SystemExit) as caught:
        make_parser().parse_args(["run", "node.py", option, value])
    assert caught.value.code == 2
    stderr = capsys.readouterr().err
    assert f"argument {option}" in stderr
    assert text in stderr


def write_idle_node_file(folder: Path) -> Path:
    path = folder / "idle_node.py"
    path.write_text("from ants import BaseNode\n\n\nclass IdleNode(BaseNode):\n    pass\n")
    return path


def test_forget_after_sets_node_config(tmp_path):
    node_file = write_idle_node_file(tmp_path)
    args = make_parser().parse_args(
        ["run", str(node_file), "--dead-after", "20", "--forget-after", "45.5"]
    )
    assert args.forget_after == 45.5

    node = build_node(args).node

    assert node.runtime.config.forget_after == 45.5
    node.start()
    try:
        assert node.communication.members_table.forget_after == 45.5
    finally:
        node.shutdown()


def test_forget_after_defaults_to_config(tmp_path):
    node_file = write_idle_node_file(tmp_path)

    node = build_node(make_parser().parse_args(["run", str(node_file)])).node

    assert node.runtime.config.forget_after == 600.0


def test_forget_after_below_dead_after_rejected(tmp_path):
    node_file = write_idle_node_file(tmp_path)
    args = make_parser().parse_args(
        ["run", str(node_file), "--dead-after", "20", "--forget-after", "10"]
    )

    with pytest.raises(ConfigError) as caught:
        build_node(args)

    assert str(caught.value) == (
        "invalid --forget-after 10: use at least --dead-after (20 seconds), "
        "because only dead or departed peers are forgotten"
    )


def test_run_bad_bootstrap_exits_two(tmp_path):
    node_file = write_node_file(tmp_path)
    result = run_ants("run", str(node_file), "--bootstrap", "host:99999", cwd=tmp_path)
    assert result.returncode == 2
    assert "host:99999" in result.stderr


def test_run_without_command_exits_two(tmp_path):
    result = run_ants(cwd=tmp_path)
    assert result.returncode == 2
    assert "usage: ants" in result.stderr


# Node files that fail to load


def test_run_file_without_node_class_fails(tmp_path):
    node_file = tmp_path / "empty_node.py"
    node_file.write_text("from ants import BaseNode\n\nclass NotANode:\n    pass\n")
    result = run_ants("run", str(node_file), cwd=tmp_path)
    assert result.returncode != 0
    assert f"ants: {node_file} defines no BaseNode subclass" in result.stderr
    assert "Traceback" not in result.stderr


def test_run_file_syntax_error_names_line(tmp_path):
    node_file = tmp_path / "broken_node.py"
    node_file.write_text(
        "from ants import BaseNode\n\nclass Broken(BaseNode)\n    pass\n"
    )
    result = run_ants("run", str(node_file), cwd=tmp_path)
    assert result.returncode != 0
    assert f"ants: {node_file}:3:" in result.stderr
    assert "syntax error" in result.stderr
    assert "Traceback" not in result.stderr


def test_run_file_import_error_names_line(tmp_path):
    node_file = tmp_path / "raising_node.py"
    node_file.write_text(
        "from ants import BaseNode\n\nraise RuntimeError('config missing')\n"
    )
    result = run_ants("run", str(node_file), cwd=tmp_path)
    assert result.returncode != 0
    assert (
        f"ants: {node_file}:3: importing the node file raised RuntimeError"
        in result.stderr
    )
    assert "config missing" in result.stderr


def test_run_missing_file_fails(tmp_path):
    missing = tmp_path / "missing.py"
    result = run_ants("run", str(missing), cwd=tmp_path)
    assert result.returncode != 0
    assert f"node file {missing} not found" in result.stderr


def test_run_file_with_two_classes_names_them(tmp_path):
    node_file = tmp_path / "two_nodes.py"
    node_file.write_text(
        "from ants import BaseNode\n\nclass First(BaseNode):\n    pass\n\n"
        "class Second(BaseNode):\n    pass\n"
    )
    result = run_ants("run", str(node_file), cwd=tmp_path)
    assert result.returncode != 0
    assert "defines 2 BaseNode subclasses (First, Second)" in result.stderr
    assert "--node-class" in result.stderr


# Stopping on signals


@pytest.mark.slow
@pytest.mark.parametrize(
    "signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"]
)
def test_run_stops_cleanly_on_signal(processes, tmp_path, signum):
    node_file = write_node_file(tmp_path)
    env = {"ANTS_TEST_LOG": str(tmp_path / "events.jsonl")}
    first = processes.start_node(
        node_file, "--port", "0", "--interval", "0.2", env=env, name="first"
    )
    first_id, first_address = wait_for_listening(first)
    second = processes.start_node(
        node_file,
        "--port",
        "0",
        "--interval",
        "0.2",
        "--bootstrap",
        first_address,
        env=env,
        name="second",
    )
    second_id, second_address = wait_for_listening(second)
    wait_until(
        lambda: f"member {second_id} at {second_address} joined" in first.stderr(),
        timeout=15,
        message="the first node to see the second",
    )
    # A node announces leaving only to members in its table, so the first must be there.
    wait_until(
        lambda: f"member {first_id} at {first_address} joined" in second.stderr(),
        timeout=15,
        message="the second node to see the first",
    )

    second.send_signal(signum)
    started = time.monotonic()
    code = second.popen.wait(timeout=10)
    elapsed = time.monotonic() - started

    assert code == 0, second.stderr()
    assert elapsed < 5.0
    assert f"node {second_id} stopped" in second.stderr()
    wait_until(
        lambda: f"member {second_id} at {second_address} is now left" in first.stderr(),
        timeout=10,
        message="the first node to log the second as left",
    )
    assert first.poll() is None


@pytest.mark.slow
def test_run_data_dir_keeps_node_id(processes, tmp_path):
    node_file = write_node_file(tmp_path)
    env = {"ANTS_TEST_LOG": str(tmp_path / "events.jsonl")}
    data_dir = tmp_path / "data"
    node_ids = []
    for name in ("before", "after"):
        process = processes.start_node(
            node_file,
            "--port",
            "0",
            "--interval",
            "0.2",
            "--data-dir",
            str(data_dir),
            env=env,
            name=name,
        )
        node_id, _ = wait_for_listening(process)
        node_ids.append(node_id)
        assert process.stop() == 0
    assert node_ids[0] == node_ids[1]
    assert (data_dir / "node_id").read_text().strip() == node_ids[0]


def test_run_data_dir_in_use_rejected(processes, tmp_path):
    node_file = write_node_file(tmp_path)
    env = {"ANTS_TEST_LOG": str(tmp_path / "events.jsonl")}
    data_dir = tmp_path / "data"
    first = processes.start_node(
        node_file, "--port", "0", "--data-dir", str(data_dir), env=env, name="first"
    )
    wait_for_listening(first)

    idle = tmp_path / "idle.py"
    idle.write_text("from ants import BaseNode\n\nclass Idle(BaseNode):\n    pass\n")
    second = run_ants("run", str(idle), "--data-dir", str(data_dir), cwd=tmp_path)

    assert second.returncode == 2
    assert (
        f"data directory {data_dir} is in use by process {first.pid}" in second.stderr
    )
    assert first.stop() == 0


def test_run_data_dir_that_is_a_file_rejected(tmp_path):
    idle = tmp_path / "idle.py"
    idle.write_text("from ants import BaseNode\n\nclass Idle(BaseNode):\n    pass\n")

    result = run_ants("run", str(idle), "--data-dir", str(idle), cwd=tmp_path)

    assert result.returncode == 2
    assert f"data directory {idle} is a file; give a folder path" in result.stderr


@pytest.mark.parametrize("program", ["ants", "ants-tui"])
def test_version_option_prints_version(program):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "ants.cli" if program == "ants" else "ants.tui.cli",
            "--version",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )

    assert result.returncode == 0
    assert result.stdout.strip() == f"{program} {ants.__version__}"


def test_run_port_in_use_exits_one(tmp_path):
    node_file = tmp_path / "idle.py"
    node_file.write_text(
        "from ants import BaseNode\n\nclass Idle(BaseNode):\n    pass\n"
    )
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        result = run_ants("run", str(node_file), "--port", str(port), cwd=tmp_path)

    assert result.returncode == 1
    assert f"127.0.0.1:{port}" in result.stderr


# Cluster keys


def test_keygen_prints_new_32_byte_key(capsys):
    keys = []
    for _ in range(2):
        assert main(["keygen"]) == 0
        output = capsys.readouterr().out
        assert output.endswith("\n")
        assert output.count("\n") == 1
        keys.append(output.strip())

    for key in keys:
        assert len(base64.b64decode(key, validate=True)) == 32
    assert keys[0] != keys[1]


def test_keygen_output_loads_as_keyring(tmp_path):
    result = run_ants("keygen", cwd=tmp_path)
    assert result.returncode == 0
    assert result.stderr == ""
    path = tmp_path / "cluster.key"
    path.write_text(result.stdout)
    path.chmod(0o600)

    keyring = Keyring.from_file(path)

    assert keyring.primary == base64.b64decode(result.stdout.strip())


def test_secret_env_supplies_key(monkeypatch):
    key = Keyring.from_env(generate_key())
    text = base64.b64encode(key.primary).decode()
    monkeypatch.setenv("ANTS_SECRET", text)

    keyring = load_keyring(None)

    assert keyring is not None
    assert keyring.primary == key.primary


def test_secret_file_overrides_env(monkeypatch, tmp_path):
    monkeypatch.setenv("ANTS_SECRET", generate_key())
    path = tmp_path / "cluster.key"
    path.write_text(generate_key() + "\n")
    path.chmod(0o600)

    keyring = load_keyring(path)

    assert keyring.primary == base64.b64decode(path.read_text().strip())


def test_secret_env_invalid_key_rejected(monkeypatch):
    monkeypatch.setenv("ANTS_SECRET", "not-a-key")
    with pytest.raises(ConfigError) as caught:
        load_keyring(None)
    assert str(caught.value) == (
        "ANTS_SECRET: the key is not valid base64; create a key with 'ants keygen'"
    )


def test_node_keyed_by_env_joins_keyed_cluster(monkeypatch, tmp_path):
    key = generate_key()
    path = tmp_path / "cluster.key"
    path.write_text(key + "\n")
    path.chmod(0o600)
    node_file = write_node_file(tmp_path)
    monkeypatch.setenv("ANTS_TEST_LOG", str(tmp_path / "log.jsonl"))
    first = build_node(
        make_parser().parse_args(
            ["run", str(node_file), "--secret-file", str(path), "--interval", "0.2"]
        )
    ).node
    first.start()
    try:
        monkeypatch.setenv("ANTS_SECRET", key)
        second = build_node(
            make_parser().parse_args(
                [
                    "run",
                    str(node_file),
                    "--interval",
                    "0.2",
                    "--bootstrap",
                    first.communication.listen_address,
                ]
            )
        ).node
        second.start()
        try:
            wait_until(
                lambda: (
                    second.node_id in alive_ids(first)
                    and first.node_id in alive_ids(second)
                ),
                timeout=10,
                message="the nodes to see each other alive",
            )
            assert second.communication.keyring is not None
            assert first.communication.auth_failures == {}
            assert second.communication.auth_failures == {}
        finally:
            second.shutdown()
    finally:
        first.shutdown()


def alive_ids(node) -> set[str]:
    return {
        m.node_id
        for m in node.communication.members()
        if not m.is_self and m.state == "alive"
    }


def test_log_level_any_case_accepted():
    args = make_parser().parse_args(["run", "node.py", "--log-level", "debug"])

    assert args.log_level == "DEBUG"
