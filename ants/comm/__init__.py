"""Transports: the interface, an in-process network, and TCP gossip."""

from ants.comm.base import BaseCommunication
from ants.comm.memory import MemoryCommunication, MemoryNetwork
from ants.comm.socket import SocketCommunication

__all__ = [
    "BaseCommunication",
    "MemoryCommunication",
    "MemoryNetwork",
    "SocketCommunication",
]
