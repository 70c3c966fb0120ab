"""Jobs, the replicated state and its merge, the node runtime, loading user code."""

from ants.node.base import BaseNode
from ants.node.config import BaseConfig, NodeConfig
from ants.node.job import Job, JobRecord, JobStatus, Message, make_job_id
from ants.node.snapshot import (
    JobChange,
    JobTransition,
    MemberView,
    NodeEvent,
    NodeSnapshot,
    TrafficEvent,
)
from ants.node.state import Delta, State

__all__ = [
    "BaseConfig",
    "BaseNode",
    "Delta",
    "Job",
    "JobChange",
    "JobRecord",
    "JobStatus",
    "JobTransition",
    "MemberView",
    "Message",
    "NodeConfig",
    "NodeEvent",
    "NodeSnapshot",
    "State",
    "TrafficEvent",
    "make_job_id",
]
