"""Origins one exchange is streaming to a node are skipped by the node's other peers."""

from __future__ import annotations

import hashlib

from ants.comm.gossip import GossipEngine, effective_digest
from ants.comm.membership import MemberTable
from ants.comm.wire import Frame, MessageType
from ants.node.job import Job
from ants.node.state import State


def make_engine(name: str, records: int = 0, max_records: int = 10) -> GossipEngine:
    """Return an engine whose node id is derived from `name` and whose origin is `name`/1."""
    node_id = hashlib.blake2b(name.encode(), digest_size=8).hexdigest()
    members = MemberTable(node_id, f"127.0.0.1:{9000 + len(name)}", 5.0, 15.0, 600.0)
    engine = GossipEngine(node_id, members, max_records=max_records)
    engine.state = State(origin=f"{name}/1")
    for index in range(records):
        engine.state.merge_job(Job("load", {"i": index}).record)
    return engine


def exchange_frame(sender: GossipEngine, receiver: GossipEngine) -> Frame:
    return sender.make_frame(MessageType.EXCHANGE, receiver.digest())


def test_streamed_origin_listed_as_incoming():
    newcomer = make_engine("newcomer")
    source = make_engine("source", records=50)
    stream, other = object(), object()

    newcomer.absorb(exchange_frame(source, newcomer), stream)

    to_source = newcomer.make_frame(MessageType.REPLY, None, stream=stream)
    to_other = newcomer.make_frame(MessageType.EXCHANGE, None, stream=other)
    assert to_source.incoming == {}
    assert to_other.incoming == {"source/1": 50}

    newcomer.end_stream(stream)
    assert newcomer.make_frame(MessageType.EXCHANGE, None, stream=other).incoming == {}


def test_peer_skips_incoming_origin_and_its_reach():
    newcomer = make_engine("newcomer")
    source = make_engine("source", records=50)
    relay = make_engine("relay")
    relay.state.merge(source.state)
    newcomer.absorb(exchange_frame(source, newcomer), object())

    request = newcomer.make_frame(MessageType.EXCHANGE, None, stream=object())
    reply = relay.make_frame(MessageType.REPLY, effective_digest(request))

    assert reply.record_count == 0
    assert "source/1" not in reply.reach
    assert effective_digest(request)["source/1"] > 50
    assert relay.has_changes_for(request.digest)


def test_second_stream_does_not_take_claimed_origin():
    newcomer = make_engine("newcomer")
    first_source = make_engine("first", records=50)
    second_source = make_engine("second", records=0)
    second_source.state.merge(first_source.state)
    first, second = object(), object()

    newcomer.absorb(exchange_frame(first_source, newcomer), first)
    newcomer.absorb(exchange_frame(second_source, newcomer), second)

    to_first = newcomer.make_frame(MessageType.EXCHANGE, None, stream=first)
    to_second = newcomer.make_frame(MessageType.EXCHANGE, None, stream=second)
    assert to_first.incoming == {}
    assert to_second.incoming == {"first/1": 50}


def test_frame_without_more_ends_claim():
    newcomer = make_engine("newcomer")
    source = make_engine("source", records=15)
    stream = object()

    newcomer.absorb(exchange_frame(source, newcomer), stream)
    assert newcomer.make_frame(MessageType.EXCHANGE, None).incoming == {"source/1": 15}

    last = exchange_frame(source, newcomer)
    assert not last.more
    newcomer.absorb(last, stream)
    assert newcomer.make_frame(MessageType.EXCHANGE, None).incoming == {}


def test_sync_behind_counts_missing_versions():
    newcomer = make_engine("newcomer")
    source = make_engine("source", records=25)
    frame = source.make_frame(MessageType.EXCHANGE, None)
    newcomer.absorb(frame)
    assert newcomer.sync_behind() == 25

    newcomer.absorb(exchange_frame(source, newcomer))
    assert newcomer.sync_behind() == 15

    newcomer.forget(source.node_id)
    assert newcomer.sync_behind() == 0
