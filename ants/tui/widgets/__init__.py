"""The dashboard's widgets, one per module."""

from ants.tui.widgets.add_job_modal import AddJobModal
from ants.tui.widgets.confirm_modal import ConfirmModal
from ants.tui.widgets.job_detail import JobDetailScreen
from ants.tui.widgets.job_table import JobTable
from ants.tui.widgets.jobs_panel import JobsPanel
from ants.tui.widgets.keys_screen import KeysScreen
from ants.tui.widgets.log_panel import LogPanel
from ants.tui.widgets.node_header import NodeHeader
from ants.tui.widgets.peers_table import PeersTable
from ants.tui.widgets.traffic_panel import TrafficPanel

__all__ = [
    "AddJobModal",
    "ConfirmModal",
    "JobDetailScreen",
    "JobTable",
    "JobsPanel",
    "KeysScreen",
    "LogPanel",
    "NodeHeader",
    "PeersTable",
    "TrafficPanel",
]
