"""The module path of the original ants transports, kept for compatibility."""

from ants.comm.socket import SocketCommunication

__all__ = ["SocketCommunication"]
