"""The public API: exported names, and the original ants usage still working."""

from __future__ import annotations

import importlib
import time

import pytest
from helpers import wait_until

from ants import BaseNode, ConfigError, Job, JobStatus, NodeConfig
from ants.comm.memory import MemoryCommunication, MemoryNetwork

PACKAGES = ["ants", "ants.node", "ants.comm"]


@pytest.mark.parametrize("package", PACKAGES)
def test_all_names_import(package):
    module = importlib.import_module(package)
    for name in module.__all__:
        assert hasattr(module, name), (
            f"{package}.{name} is listed in __all__ but missing"
        )
        namespace: dict = {}
        exec(f"from {package} import {name}", namespace)
        assert namespace[name] is getattr(module, name)


@pytest.mark.parametrize("package", PACKAGES)
def test_all_is_sorted(package):
    names = importlib.import_module(package).__all__
    assert list(names) == sorted(names)


@pytest.mark.parametrize("package", PACKAGES)
def test_all_has_no_duplicates(package):
    names = importlib.import_module(package).__all__
    assert len(set(names)) == len(names)


def test_star_import_matches_all():
    namespace: dict = {}
    exec("from ants import *", namespace)
    import ants

    assert set(ants.__all__) <= set(namespace)


def test_original_import_path_works():
    from ants.comm import SocketCommunication as current
    from ants.communications.socketserver import SocketCommunication

    assert SocketCommunication is current


def test_base_config_is_node_config():
    from ants import BaseConfig, NodeConfig

    assert BaseConfig is NodeConfig


def test_original_api_runs_a_job():
    from ants import BaseConfig, BaseNode
    from ants.communications.socketserver import SocketCommunication

    finished = []

    class MyNode(BaseNode):
        def add_jobs(self):
            return [Job("original", {"x": 21})]

        def assign_to_jobs(self, pending_jobs):
            return pending_jobs

        def do_jobs(self, my_assigned_jobs):
            for job in my_assigned_jobs:
                job.set_result({"x": job.payload["x"] * 2})

        def completed_jobs(self, done_jobs):
            finished.extend(done_jobs)

    communication = SocketCommunication(
        host="127.0.0.1", port=0, pull_interval=0.2, bootstrap_nodes=[]
    )
    config = BaseConfig(heartbeat_interval=0.2)
    node = MyNode(config, communication)
    node.start()
    try:
        wait_until(
            lambda: finished, timeout=15, message="completed_jobs to report the job"
        )
    finally:
        started = time.monotonic()
        node.shutdown()
        elapsed = time.monotonic() - started

    assert elapsed < 2.0
    assert len(finished) == 1
    assert finished[0].status is JobStatus.DONE
    assert finished[0].result == {"x": 42}
    assert finished[0].assigned_to == node.node_id
    assert not node.runtime.is_running


@pytest.mark.parametrize("node_id", ["worker-1", "00000000000000AA", "0" * 17])
def test_node_id_must_be_16_hex(node_id):
    communication = MemoryCommunication(MemoryNetwork(seed=1), "a")
    with pytest.raises(ConfigError) as caught:
        BaseNode(NodeConfig.local(), communication, node_id=node_id)
    assert str(caught.value) == (
        f"node_id {node_id!r} is not 16 lowercase hex characters; "
        "leave it out to get a random one"
    )
