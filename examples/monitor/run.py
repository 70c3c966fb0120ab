"""Run one monitor node headless until SIGINT or SIGTERM.

python run.py --port 9000
python run.py --bootstrap 127.0.0.1:9000
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

try:
    import ants  # noqa: F401
except ImportError:
    # Not installed: use the checkout this example lives in.
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from monitor import MonitorNode

from ants import AntsError, NodeConfig, SocketCommunication


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Run a node of the decentralized uptime monitor on 127.0.0.1."
    )
    parser.add_argument(
        "--port",
        type=int,
        default=0,
        help="TCP port to listen on; 0 picks a free one (default: 0)",
    )
    parser.add_argument(
        "--bootstrap",
        metavar="HOST:PORT",
        action="append",
        default=[],
        help="node to join through; repeat for several",
    )
    parser.add_argument(
        "--interval",
        type=float,
        default=1.0,
        metavar="SECONDS",
        help="seconds between beats and gossip rounds (default: 1.0)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        # The same membership timing `ants run` uses for this interval.
        config = NodeConfig(
            heartbeat_interval=args.interval,
            suspect_after=max(5.0, 5 * args.interval),
            dead_after=max(15.0, 15 * args.interval),
        )
        communication = SocketCommunication(
            host="127.0.0.1",
            port=args.port,
            pull_interval=args.interval,
            bootstrap_nodes=args.bootstrap,
        )
        node = MonitorNode(config, communication)
        node.run()
    except AntsError as exc:
        print(f"run.py: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
