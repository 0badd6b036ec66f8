"""A replica's inter-deployment gRPC server goes on 127.0.0.1 on a loopback node (a local
``serve --ray``) and stays on every interface on a cluster node (KubeRay: the pod's address).
The real listeners of a local Ray are checked by tests/e2e/test_up_ray_e2e.py."""

from __future__ import annotations

from typing import Any

import pytest
import ray
from ray.serve._private import replica

from inferstack.serving.ray_loopback import keep_replica_on_loopback


@pytest.fixture
def bound(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The addresses replicas ask gRPC to bind, with Ray's hook restored afterwards."""
    seen: list[str] = []

    def add_port(server: Any, address: str) -> int:
        seen.append(address)
        return 4321

    monkeypatch.setattr(replica, "add_port_to_grpc_server", add_port)
    return seen


def test_a_loopback_node_binds_replicas_to_loopback(
    bound: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ray.util, "get_node_ip_address", lambda: "127.0.0.1")
    assert keep_replica_on_loopback()
    assert keep_replica_on_loopback()  # a second replica in the process wraps nothing twice
    assert replica.add_port_to_grpc_server(object(), "[::]:0") == 4321
    assert replica.add_port_to_grpc_server(object(), "10.1.2.3:9000") == 4321
    assert bound == ["127.0.0.1:0", "10.1.2.3:9000"]


def test_a_cluster_node_keeps_every_interface(
    bound: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ray.util, "get_node_ip_address", lambda: "10.1.2.3")
    assert not keep_replica_on_loopback()
    replica.add_port_to_grpc_server(object(), "[::]:0")
    assert bound == ["[::]:0"]
