"""The gossip engine's frames: what a push carries on a stale or a fresh digest."""

from __future__ import annotations

from ants.comm.gossip import GossipEngine
from ants.comm.membership import MemberTable
from ants.comm.wire import MessageType
from ants.node.job import JobRecord, make_job_id
from ants.node.state import State


def pending(n: int) -> JobRecord:
    return JobRecord(id=make_job_id("gossip", {"n": n}), name="gossip", payload={"n": n})


def engine_with_relayed_and_own_writes() -> tuple[GossipEngine, State, State]:
    """Return an engine whose state contains three records of a peer and two of its own."""
    peer = State()
    for n in range(3):
        peer.merge_job(pending(n))
    own = State()
    own.merge(peer.full_delta())
    for n in range(3, 5):
        own.merge_job(pending(n))
    engine = GossipEngine("a" * 16, MemberTable("a" * 16, "127.0.0.1:1"))
    engine.state = own
    return engine, own, peer


def test_stale_digest_push_carries_own_writes():
    engine, own, _ = engine_with_relayed_and_own_writes()

    frame = engine.make_frame(MessageType.EXCHANGE, {}, fresh=False)

    assert sorted(record.payload["n"] for record in frame.jobs) == [3, 4]
    assert set(frame.reach) == {own.origin}


def test_fresh_digest_push_carries_everything_lacking():
    engine, _, _ = engine_with_relayed_and_own_writes()

    frame = engine.make_frame(MessageType.EXCHANGE, {}, fresh=True)

    assert sorted(record.payload["n"] for record in frame.jobs) == [0, 1, 2, 3, 4]


def test_stale_push_continues_when_peer_lacks_more():
    engine, _, _ = engine_with_relayed_and_own_writes()
    sent = engine.make_frame(MessageType.EXCHANGE, {}, fresh=False)
    reply = GossipEngine("b" * 16, MemberTable("b" * 16, "127.0.0.1:2")).make_frame(
        MessageType.REPLY, None
    )
    reply.digest = {}

    assert engine.should_continue(sent, reply, sent_fresh=False)


def test_fresh_push_ends_exchange():
    engine, own, _ = engine_with_relayed_and_own_writes()
    sent = engine.make_frame(MessageType.EXCHANGE, {}, fresh=True)
    reply = GossipEngine("b" * 16, MemberTable("b" * 16, "127.0.0.1:2")).make_frame(
        MessageType.REPLY, None
    )
    reply.digest = {}

    assert not engine.should_continue(sent, reply, sent_fresh=True)
