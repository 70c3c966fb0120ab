"""`ants-tui` command-line errors: one line on stderr and a non-zero exit code."""

from __future__ import annotations

import argparse
import socket

import pytest

from ants.tui.cli import child_options, main, make_parser
from ants.tui.swarm import MAX_SWARM, swarm_size


def test_cli_file_without_node_class(tmp_path, capsys):
    path = tmp_path / "plain.py"
    path.write_text("VALUE = 1\n")

    assert main([str(path)]) == 2

    err = capsys.readouterr().err
    assert err.startswith("ants-tui: ")
    assert str(path) in err
    assert "defines no BaseNode subclass" in err
    assert len(err.strip().splitlines()) == 1


def test_cli_missing_file(tmp_path, capsys):
    path = tmp_path / "absent.py"

    assert main([str(path)]) == 2

    err = capsys.readouterr().err
    assert err.startswith("ants-tui: ")
    assert "not found" in err
    assert str(path) in err


def test_cli_syntax_error_names_line(tmp_path, capsys):
    path = tmp_path / "broken.py"
    path.write_text("from ants import BaseNode\n\nclass Broken(BaseNode:\n    pass\n")

    assert main([str(path)]) == 2

    err = capsys.readouterr().err
    assert f"{path}:3" in err
    assert "syntax error" in err


def test_cli_bad_bootstrap_names_value(node_file, capsys):
    assert main([str(node_file), "--bootstrap", "nohost"]) != 0

    err = capsys.readouterr().err
    assert "'nohost'" in err
    assert "--bootstrap" in err


@pytest.mark.parametrize("value", ["0", "-2", "three", str(MAX_SWARM + 1)])
def test_cli_bad_swarm_names_value(node_file, capsys, value):
    assert main([str(node_file), "--swarm", value]) == 2

    err = capsys.readouterr().err
    assert "--swarm" in err
    assert repr(value) in err or value in err


def test_swarm_size_accepts_range():
    assert swarm_size("1") == 1
    assert swarm_size("3") == 3
    assert swarm_size(str(MAX_SWARM)) == MAX_SWARM


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0", f"invalid node count 0: use 1..{MAX_SWARM}"),
        ("2.5", "invalid node count '2.5': expected a whole number"),
        ("", "invalid node count '': expected a whole number"),
    ],
)
def test_swarm_size_rejects(value, message):
    with pytest.raises(argparse.ArgumentTypeError) as caught:
        swarm_size(value)
    assert str(caught.value).startswith(message)


def test_cli_help_returns_zero(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "--swarm N" in out


def test_child_options_pass_cluster_settings(tmp_path):
    secret = tmp_path / "key"
    args = make_parser().parse_args(
        [
            "node.py",
            "--interval",
            "0.2",
            "--fanout",
            "2",
            "--node-class",
            "MyNode",
            "--secret-file",
            str(secret),
            "--dead-after",
            "9",
            "--forget-after",
            "30",
            "--data-dir",
            "state",
            "--port",
            "9000",
            "--observe",
        ]
    )

    options = child_options(args)

    assert options[options.index("--interval") + 1] == "0.2"
    assert options[options.index("--fanout") + 1] == "2"
    assert options[options.index("--node-class") + 1] == "MyNode"
    assert options[options.index("--secret-file") + 1] == str(secret.resolve())
    assert options[options.index("--dead-after") + 1] == "9.0"
    assert options[options.index("--forget-after") + 1] == "30.0"
    assert "--data-dir" not in options
    assert "--port" not in options
    assert "--observe" not in options


def test_cli_port_in_use_exits_one(node_file, capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        assert main([str(node_file), "--port", str(port)]) == 1

    err = capsys.readouterr().err
    assert err.startswith("ants-tui: ")
    assert f"127.0.0.1:{port}" in err
    assert len(err.strip().splitlines()) == 1
