"""Keep Serve replicas' inter-deployment gRPC port on loopback for a single-machine cluster.

Ray Serve 2.60 binds each replica's inter-deployment gRPC server to `[::]:0` (every interface)
with no setting to change it; on one machine the replicas only ever talk over loopback, so in
local mode (RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0, as `ustadh up` sets without RAY_ADDRESS) we
rewrite that address to 127.0.0.1. A multi-node cluster (ray_cluster.yaml) keeps Ray's default.
Imported by the gateway module, which every replica loads before it starts that server.
"""
from __future__ import annotations

import os
from typing import Any

from loguru import logger


def keep_replica_grpc_on_loopback() -> None:
    if os.environ.get("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER") != "0":
        return
    try:
        from ray.serve._private import replica
    except ImportError:
        return
    original = getattr(replica, "add_port_to_grpc_server", None)
    if original is None or getattr(original, "_ustadh_loopback", False):
        if original is None:
            logger.warning("Ray Serve changed: replica gRPC address cannot be pinned to loopback")
        return

    def loopback_only(server: Any, address: str) -> int:
        return original(server, address.replace("[::]", "127.0.0.1"))

    loopback_only._ustadh_loopback = True  # type: ignore[attr-defined]
    replica.add_port_to_grpc_server = loopback_only
