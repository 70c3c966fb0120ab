"""The `ants-tui` command: run a node inside the live dashboard."""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys

from ants import __version__
from ants.comm.addresses import format_address, parse_address
from ants.errors import AntsError
from ants.node.base import BaseNode
from ants.options import add_node_arguments, build_node
from ants.tui.app import make_app, print_logger
from ants.tui.logbuffer import LogBuffer, PrintToLog
from ants.tui.swarm import Swarm, swarm_size

logger = logging.getLogger(__name__)

WILDCARD_HOSTS = ("0.0.0.0", "::", "")


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ants-tui",
        description=(
            "Run the BaseNode subclass in FILE as a cluster node inside a live "
            "dashboard, reloading FILE whenever it changes."
        ),
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    add_node_arguments(parser)
    parser.add_argument(
        "--swarm",
        type=swarm_size,
        default=1,
        metavar="N",
        help="run N nodes of FILE in total: this one plus N-1 local child "
        "processes that join it (default: 1)",
    )
    parser.add_argument(
        "--no-reload",
        dest="reload",
        action="store_false",
        help="do not watch FILE for changes",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the dashboard and return the exit code: 0, 1 when the node cannot
    start, or 2 for bad input."""
    parser = make_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        # argparse has printed the usage error or the help text already.
        return exc.code if isinstance(exc.code, int) else 2

    # Installed before the node file is imported, so that a basicConfig()
    # call in it cannot add a handler that writes over the dashboard.
    log_buffer = LogBuffer()
    log_buffer.install(args.log_level)
    logging.getLogger("watchfiles").setLevel(logging.WARNING)
    try:
        return _run(args, log_buffer)
    finally:
        log_buffer.uninstall()


def _run(args: argparse.Namespace, log_buffer: LogBuffer) -> int:
    try:
        setup = build_node(args)
    except AntsError as exc:
        print(f"ants-tui: {exc}", file=sys.stderr)
        return 2
    node = setup.node
    errors = sys.stderr
    # Until the dashboard captures print() itself, the node's output goes to
    # the log panel too; the dashboard's own drawing uses sys.__stderr__.
    with (
        contextlib.redirect_stdout(PrintToLog(print_logger, logging.INFO)),
        contextlib.redirect_stderr(PrintToLog(print_logger, logging.WARNING)),
    ):
        try:
            node.start()
        except AntsError as exc:
            # Bad options exit 2; a node that cannot start, as on a port in
            # use, exits 1, the same as under `ants run`.
            print(f"ants-tui: {exc}", file=errors)
            return 1
        return _show(args, setup, log_buffer, errors)


def _show(args: argparse.Namespace, setup, log_buffer: LogBuffer, errors) -> int:
    """Run the dashboard on the started node; stop the node when it ends."""
    node = setup.node
    swarm = None
    try:
        if args.swarm > 1:
            try:
                swarm = start_swarm(args, node)
            except OSError as exc:
                print(f"ants-tui: cannot start the swarm nodes: {exc}", file=errors)
                return 2
        app = make_app(
            node,
            path=setup.path,
            class_name=setup.class_name,
            reload=args.reload,
            swarm=swarm,
            log_buffer=log_buffer,
        )
        app.run()
    finally:
        node.shutdown()
        if swarm is not None:
            swarm.stop()
    return app.return_code or 0


def start_swarm(args: argparse.Namespace, node: BaseNode) -> Swarm:
    """Start the --swarm children of `args`, joined to `node`."""
    host, port = parse_address(node.communication.listen_address)
    if host in WILDCARD_HOSTS:
        host = "127.0.0.1"
    swarm = Swarm(
        args.file,
        args.swarm - 1,
        format_address(host, port),
        options=child_options(args),
    )
    swarm.start()
    return swarm


def child_options(args: argparse.Namespace) -> list[str]:
    """Return the `ants run` options that swarm children share with this node.

    Addresses, --data-dir (a node id per folder) and --observe stay with
    this node; the children listen on 127.0.0.1 and do the work.
    """
    options = [
        "--interval",
        str(args.interval),
        "--fanout",
        str(args.fanout),
        "--log-level",
        args.log_level,
    ]
    if args.node_class:
        options += ["--node-class", args.node_class]
    if args.suspect_after is not None:
        options += ["--suspect-after", str(args.suspect_after)]
    if args.dead_after is not None:
        options += ["--dead-after", str(args.dead_after)]
    if args.forget_after is not None:
        options += ["--forget-after", str(args.forget_after)]
    if args.secret_file is not None:
        options += ["--secret-file", str(args.secret_file.resolve())]
    return options


if __name__ == "__main__":
    sys.exit(main())
