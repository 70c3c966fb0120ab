"""The `ants` command: run a node headless, logging to stderr."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading

from ants import __version__
from ants.comm.crypto import generate_key
from ants.errors import AntsError
from ants.node.loader import NodeReloader
from ants.options import add_node_arguments, build_node

LOG_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"

PARENT_PID_ENV = "ANTS_PARENT_PID"
"""When set, `ants run` stops once the process with this PID is no longer its parent."""


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ants", description="Run and manage ants nodes."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser(
        "run",
        help="run a node headless until SIGINT or SIGTERM",
        description="Run the BaseNode subclass in FILE as a cluster node, without the dashboard.",
    )
    add_node_arguments(run)
    run.add_argument("--reload", action="store_true",
                     help="reload FILE when it changes, keeping the node's state and peers")
    commands.add_parser(
        "keygen",
        help="print a new random cluster key",
        description="Print a new base64 cluster key. Put it in a file given to every "
                    "node with --secret-file, or in the ANTS_SECRET environment variable.",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = make_parser()
    args = parser.parse_args(argv)
    if args.command == "keygen":
        print(generate_key())
        return 0
    logging.basicConfig(level=args.log_level, format=LOG_FORMAT, stream=sys.stderr)
    # watchfiles logs every change it detects at INFO, including writes to a log
    # file kept beside the node file.
    logging.getLogger("watchfiles").setLevel(logging.WARNING)
    if args.command == "run":
        return run(args)
    parser.error(f"unknown command {args.command!r}")
    return 2


def run(args: argparse.Namespace) -> int:
    try:
        setup = build_node(args)
    except AntsError as exc:
        print(f"ants: {exc}", file=sys.stderr)
        return 2
    node = setup.node
    reloader = None
    if args.reload:
        reloader = NodeReloader(node, setup.path, setup.class_name)
    watch_parent(node)
    try:
        if reloader is not None:
            reloader.start()
        node.run()
    except AntsError as exc:
        print(f"ants: {exc}", file=sys.stderr)
        return 1
    finally:
        if reloader is not None:
            reloader.stop()
    return 0


def watch_parent(node) -> None:
    """Stop the node when the process that started it exits, if it asked for that.

    `ants-tui --swarm` sets ANTS_PARENT_PID, so its child nodes do not outlive a
    dashboard that was killed before it could stop them.
    """
    value = os.environ.get(PARENT_PID_ENV)
    if not value or not value.isdigit():
        return
    parent = int(value)

    def poll() -> None:
        while not node.runtime.wait(0.5):
            if os.getppid() != parent:
                logging.getLogger(__name__).warning(
                    "parent process %d exited; stopping this node", parent
                )
                os.kill(os.getpid(), signal.SIGTERM)
                return

    threading.Thread(target=poll, name="ants-parent-watch", daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
