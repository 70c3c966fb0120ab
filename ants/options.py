"""Command-line options shared by `ants run` and `ants-tui`, and the node factory."""

from __future__ import annotations

import argparse
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from ants.comm.addresses import parse_address
from ants.comm.crypto import SECRET_ENV, Keyring
from ants.comm.socket import SocketCommunication
from ants.errors import ConfigError
from ants.node.base import BaseNode
from ants.node.config import NodeConfig
from ants.node.identity import load_node_id
from ants.node.loader import load_node_class

logger = logging.getLogger(__name__)


MIN_SECONDS = 0.01
MAX_SECONDS = 86_400.0
DEFAULT_FORGET_AFTER = NodeConfig.forget_after


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number {text!r}") from None
    if not MIN_SECONDS <= value <= MAX_SECONDS:
        raise argparse.ArgumentTypeError(
            f"{text} is outside {MIN_SECONDS}..{MAX_SECONDS:g} seconds"
        )
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid port {text!r}: expected a number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(
            f"invalid port {value}: use 0..65535 (0 picks a free port)"
        )
    return value


def _address(text: str) -> str:
    try:
        parse_address(text, "address")
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def add_node_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options that describe one node to `parser`."""
    parser.add_argument("file", type=Path, help="Python file defining a BaseNode subclass")
    parser.add_argument("--node-class", metavar="NAME",
                        help="class to run when the file defines several")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=_port, default=0,
                        help="TCP port to listen on; 0 picks a free one (default: 0)")
    parser.add_argument("--advertise", metavar="HOST:PORT", type=_address,
                        help="address other nodes should use to reach this one")
    parser.add_argument("--bootstrap", metavar="HOST:PORT", type=_address, action="append",
                        default=[], help="peer to join through; repeat for several")
    parser.add_argument("--interval", type=_positive_float, default=1.0, metavar="SECONDS",
                        help="seconds between beats and gossip rounds (default: 1.0)")
    parser.add_argument("--suspect-after", type=_positive_float, metavar="SECONDS",
                        help="seconds of silence before a peer is suspect "
                             "(default: 5 beats, at least 5)")
    parser.add_argument("--dead-after", type=_positive_float, metavar="SECONDS",
                        help="seconds of silence before a peer is dead and its jobs "
                             "re-queued (default: 15 beats, at least 15)")
    parser.add_argument("--forget-after", type=_positive_float, metavar="SECONDS",
                        help="seconds after its heartbeat last rose before a dead or "
                             "departed peer is dropped from the member table "
                             f"(default: {DEFAULT_FORGET_AFTER:g}, at least --dead-after)")
    parser.add_argument("--fanout", type=int, default=3,
                        help="peers contacted per gossip round (default: 3)")
    parser.add_argument("--data-dir", type=Path, metavar="PATH",
                        help="folder that keeps the node id across restarts")
    parser.add_argument("--secret-file", type=Path, metavar="PATH",
                        help="file of base64 cluster keys, one per line, the first "
                             "seals outgoing frames (default: $ANTS_SECRET, else none)")
    parser.add_argument("--observe", action="store_true",
                        help="gossip and show the cluster, but never create or claim jobs")
    parser.add_argument("--log-level", default="INFO", type=str.upper,
                        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                        help="level of the log output (default: INFO)")


def load_keyring(secret_file: Path | None) -> Keyring | None:
    """Return the keyring from `secret_file`, else from $ANTS_SECRET, else None."""
    if secret_file is not None:
        return Keyring.from_file(secret_file)
    secret = os.environ.get(SECRET_ENV)
    if secret:
        return Keyring.from_env(secret)
    return None


@dataclass
class NodeSetup:
    """The result of `build_node`: the node, its file and its class name."""

    node: BaseNode
    path: Path
    class_name: str | None


def build_node(args: argparse.Namespace) -> NodeSetup:
    """Load the node class named by `args` and build a node on a TCP transport.

    Raises an AntsError subclass with a one-line message on bad input.
    """
    node_class = load_node_class(args.file, args.node_class)
    if args.fanout < 1:
        raise ConfigError(f"invalid --fanout {args.fanout}: use 1 or more")
    interval = args.interval
    suspect_after = args.suspect_after or max(5.0, 5 * interval)
    dead_after = args.dead_after or max(15.0, 15 * interval, suspect_after)
    forget_after = args.forget_after or max(DEFAULT_FORGET_AFTER, dead_after)
    if forget_after < dead_after:
        raise ConfigError(
            f"invalid --forget-after {forget_after:g}: use at least --dead-after "
            f"({dead_after:g} seconds), because only dead or departed peers are forgotten"
        )
    config = NodeConfig(
        heartbeat_interval=interval,
        suspect_after=suspect_after,
        dead_after=dead_after,
        forget_after=forget_after,
        observe=args.observe,
    )
    keyring = load_keyring(args.secret_file)
    communication = SocketCommunication(
        host=args.host,
        port=args.port,
        pull_interval=interval,
        bootstrap_nodes=args.bootstrap,
        advertise=args.advertise,
        fanout=args.fanout,
        keyring=keyring,
    )
    node = node_class(config, communication)
    if not isinstance(node, BaseNode) or not hasattr(node, "runtime"):
        raise ConfigError(
            f"{node_class.__name__}.__init__ must call super().__init__(config, communication)"
        )
    if args.data_dir:
        # Set after construction so a subclass __init__ need not accept node_id.
        node.runtime.node_id = load_node_id(args.data_dir)
    return NodeSetup(node, args.file, args.node_class)
