"""Keep a local Ray Serve's listeners on loopback.

A local Ray (``inferstack serve --ray``, started by ``inferstack up --ray``) must listen on
127.0.0.1 only. Ray puts its GCS, raylet, agents and workers there when the node's address is
127.0.0.1, but on Linux ``ray.init(_node_ip_address="127.0.0.1")`` swaps 127.0.0.1 for the
machine's address (``resolve_ip_for_localhost``); :data:`LOOPBACK_ENV` makes the node's
address loopback, as Ray does on macOS and Windows. One listener does not follow the node's
address: every Serve replica's inter-deployment gRPC server binds ``[::]:0`` (Ray 2.60, no
setting changes it); :func:`keep_replica_on_loopback` rebinds it to 127.0.0.1 on a loopback
node. On a cluster (KubeRay: the pod's address) neither changes anything.
"""

from __future__ import annotations

import ipaddress
import logging
from typing import Any

__all__ = ["LOOPBACK_ENV", "keep_replica_on_loopback"]

log = logging.getLogger(__name__)

LOOPBACK_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
"""Set before Ray is imported (and inherited by every Ray process): the node's address is
127.0.0.1 instead of the machine's."""


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def keep_replica_on_loopback() -> bool:
    """In a replica on a loopback node, before Serve starts the replica's inter-deployment
    gRPC server (the replica's constructor runs first): bind it to 127.0.0.1 instead of every
    interface. Returns whether it will."""
    import ray
    from ray.serve._private import replica

    if not _is_loopback(ray.util.get_node_ip_address()):
        return False
    add_port = getattr(replica, "add_port_to_grpc_server", None)
    if add_port is None:  # another Ray: the e2e test of `up --ray` says what it binds
        log.warning("this Ray has no replica gRPC port hook; its replicas may listen widely")
        return False
    if getattr(add_port, "keeps_loopback", False):
        return True

    def loopback_port(server: Any, address: str) -> int:
        if address.startswith("[::]:"):
            address = "127.0.0.1:" + address.removeprefix("[::]:")
        return int(add_port(server, address))

    loopback_port.keeps_loopback = True  # type: ignore[attr-defined]
    # NOTE: Ray's module global, looked up when the replica starts the server.
    replica.add_port_to_grpc_server = loopback_port
    return True
