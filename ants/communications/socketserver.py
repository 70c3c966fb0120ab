"""The original ants import path of `SocketCommunication`."""

from ants.comm.socket import SocketCommunication

__all__ = ["SocketCommunication"]
