"""A network partition of socket transports: frames across the cut are dropped."""

from __future__ import annotations

import threading

from ants import NodeConfig, SocketCommunication
from ants.comm.base import BaseCommunication
from ants.comm.wire import Frame


class Partition:
    """The node ids cut off from the rest, and the frames dropped so far."""

    def __init__(self) -> None:
        self.isolated: set[str] = set()
        self.dropped = 0
        self.lock = threading.Lock()

    def separates(self, receiver: str, sender: str) -> bool:
        return (receiver in self.isolated) != (sender in self.isolated)

    def count_drop(self) -> None:
        with self.lock:
            self.dropped += 1


class PartitionedTransport(BaseCommunication):
    """A socket transport whose incoming frames are dropped across a `Partition`.

    Every frame a node takes in, whether a request it serves or a reply to its
    own request, passes through its gossip engine's `absorb`. Dropping there
    on both sides drops all traffic to and from the partitioned node.
    """

    def __init__(self, inner: SocketCommunication, partition: Partition) -> None:
        self.inner = inner
        self.partition = partition

    @property
    def notify(self):
        return self.inner.notify

    @notify.setter
    def notify(self, callback) -> None:
        self.inner.notify = callback

    @property
    def fanout(self) -> int:
        return self.inner.fanout

    def apply_config(self, config: NodeConfig) -> None:
        self.inner.apply_config(config)

    def start(self, node_id: str) -> None:
        self.inner.start(node_id)
        engine = self.inner.engine
        assert engine is not None
        absorb = engine.absorb

        def absorb_unless_cut(frame: Frame, stream: object = None) -> None:
            if self.partition.separates(node_id, frame.node_id):
                self.partition.count_drop()
                return
            absorb(frame, stream)

        engine.absorb = absorb_unless_cut

    def stop(self) -> None:
        self.inner.stop()

    def pull(self):
        return self.inner.pull()

    def broadcast(self, state) -> None:
        self.inner.broadcast(state)

    def members(self):
        return self.inner.members()

    def sync_behind(self) -> int:
        return self.inner.sync_behind()

    def traffic(self):
        return self.inner.traffic()

    def rates(self):
        return self.inner.rates()

    @property
    def listen_address(self) -> str:
        return self.inner.listen_address

    @property
    def advertise_address(self) -> str:
        return self.inner.advertise_address
