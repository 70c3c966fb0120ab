"""ants: decentralized job systems in one Python class."""

from ants.comm import BaseCommunication, MemoryCommunication, MemoryNetwork, SocketCommunication
from ants.errors import (
    AntsError,
    ConfigError,
    JobError,
    NodeLoadError,
    PayloadError,
    ProtocolError,
    TransportError,
)
from ants.node import (
    BaseConfig,
    BaseNode,
    Job,
    JobRecord,
    JobStatus,
    Message,
    NodeConfig,
    NodeSnapshot,
    State,
)

__version__ = "0.4.0"

__all__ = [
    "AntsError",
    "BaseCommunication",
    "BaseConfig",
    "BaseNode",
    "ConfigError",
    "Job",
    "JobError",
    "JobRecord",
    "JobStatus",
    "MemoryCommunication",
    "MemoryNetwork",
    "Message",
    "NodeConfig",
    "NodeLoadError",
    "NodeSnapshot",
    "PayloadError",
    "ProtocolError",
    "SocketCommunication",
    "State",
    "TransportError",
]
