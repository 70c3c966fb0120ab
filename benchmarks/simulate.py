"""Epidemic spread of job state over a simulated network, counted in gossip rounds.

Runs N in-process replicas with the real gossip engine and wire codec, over
a network that drops each frame with a seeded probability. Time is virtual:
one round is one gossip interval, in which every node starts push-pull
exchanges with `fanout` random peers. Prints, for each N, the rounds until a
job created on one node is known to all, the rounds until its result is
known to all, and the bytes of job state each node sends per round.

Membership is not simulated: every node has every other one as a peer, and frames
are sent without the member table, so the byte counts are job state only.

    python benchmarks/simulate.py --sizes 10 100 1000 5000 --fanout 2 --loss 0.01
"""

from __future__ import annotations

import argparse
import json
import math
import random
import subprocess
import sys
import time
from pathlib import Path

from ants.comm.gossip import GossipEngine
from ants.comm.membership import MemberTable
from ants.comm.wire import MessageType, decode_body, encode_frame
from ants.node.job import Job, JobStatus
from ants.node.state import State

HERE = Path(__file__).parent


class SimulatedNode:
    def __init__(self, index: int) -> None:
        self.node_id = f"{index:016x}"
        self.state = State()
        self.engine = GossipEngine(self.node_id, MemberTable(self.node_id, f"sim:{index}"))
        self.state.origin = self.node_id
        self.engine.state = self.state
        self.bytes_sent = 0

    def merge_inbox(self) -> None:
        for delta in self.engine.take_inbox():
            self.state.merge(delta)


def exchange(a: SimulatedNode, b: SimulatedNode, rng: random.Random, loss: float) -> None:
    """Run one push-pull exchange from a to b, each frame lost with probability `loss`."""
    peer_digest = a.engine.known_digest(b.node_id)
    for _ in range(64):
        request = a.engine.make_frame(MessageType.EXCHANGE, peer_digest)
        request.members = []
        data = encode_frame(request)
        a.bytes_sent += len(data)
        if rng.random() < loss:
            return
        b.engine.absorb(decode_body(data[4:], a.node_id))
        reply = b.engine.make_frame(MessageType.REPLY, request.digest)
        reply.members = []
        data = encode_frame(reply)
        b.bytes_sent += len(data)
        if rng.random() < loss:
            return
        a.engine.absorb(decode_body(data[4:], b.node_id))
        peer_digest = reply.digest
        owes = not request.record_count and a.engine.has_changes_for(peer_digest)
        if not (request.more or reply.more or owes):
            return


def run_round(nodes: list[SimulatedNode], fanout: int, rng: random.Random, loss: float) -> None:
    order = list(range(len(nodes)))
    rng.shuffle(order)
    for index in order:
        peers = rng.sample(range(len(nodes) - 1), min(fanout, len(nodes) - 1))
        for peer in peers:
            peer = peer if peer < index else peer + 1
            exchange(nodes[index], nodes[peer], rng, loss)
    for node in nodes:
        node.merge_inbox()


def rounds_until(nodes, fanout, rng, loss, known, limit=200) -> int | None:
    for round_number in range(1, limit + 1):
        run_round(nodes, fanout, rng, loss)
        if all(known(node) for node in nodes):
            return round_number
    return None


def measure(size: int, fanout: int, loss: float, seed: int) -> dict:
    rng = random.Random(seed)
    nodes = [SimulatedNode(i) for i in range(size)]
    job = Job("spread", {"size": size})
    record = job.record.with_changes(max_attempts=3, creator=nodes[0].node_id)
    nodes[0].state.merge_job(record)

    started = time.perf_counter()
    sent_before = sum(n.bytes_sent for n in nodes)
    to_create = rounds_until(nodes, fanout, rng, loss, lambda n: n.state.get(job.id) is not None)
    owner = nodes[rng.randrange(size)]
    done = record.with_changes(
        status=JobStatus.DONE, owner=owner.node_id, result={"ok": True}, finished=time.time()
    )
    owner.state.merge_job(done)
    to_result = rounds_until(
        nodes, fanout, rng, loss,
        lambda n: (r := n.state.get(job.id)) is not None and r.status is JobStatus.DONE,
    )
    rounds = (to_create or 0) + (to_result or 0)
    sent = sum(n.bytes_sent for n in nodes) - sent_before

    # Rounds in which nothing changed: what agreeing nodes pay.
    idle_before = sum(n.bytes_sent for n in nodes)
    for _ in range(3):
        run_round(nodes, fanout, rng, loss)
    idle = (sum(n.bytes_sent for n in nodes) - idle_before) / (3 * size)

    bound = 2 * math.log2(size) + 3
    return {
        "nodes": size,
        "fanout": fanout,
        "loss": loss,
        "seed": seed,
        "rounds_to_all_created": to_create,
        "rounds_to_all_done": to_result,
        "bound_2log2n_plus_3": round(bound, 1),
        "within_bound": bool(to_create and to_result and to_create <= bound and to_result <= bound),
        "bytes_per_node_per_round": round(sent / max(1, rounds) / size, 1),
        "idle_bytes_per_node_per_round": round(idle, 1),
        "wall_seconds": round(time.perf_counter() - started, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000, 5000])
    parser.add_argument("--fanout", type=int, default=2)
    parser.add_argument("--loss", type=float, default=0.01,
                        help="probability that a frame is dropped (default: 0.01)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, cwd=HERE).stdout.strip()
    results = []
    print(f"{'N':>6} {'rounds: job':>12} {'result':>7} {'bound':>6} {'B/node/round':>13} "
          f"{'idle B':>7}")
    for size in args.sizes:
        row = measure(size, args.fanout, args.loss, args.seed)
        row["commit"] = commit
        results.append(row)
        print(f"{size:>6} {row['rounds_to_all_created']!s:>12} {row['rounds_to_all_done']!s:>7} "
              f"{row['bound_2log2n_plus_3']:>6} {row['bytes_per_node_per_round']:>13} "
              f"{row['idle_bytes_per_node_per_round']:>7}", flush=True)
    out = HERE / "results" / "simulate.jsonl"
    out.parent.mkdir(exist_ok=True)
    with out.open("a") as file:
        for row in results:
            file.write(json.dumps(row) + "\n")
    return 0 if all(r["within_bound"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
