"""Starting and stopping Ray for `ustadh up`: a local single-node cluster bound to loopback,
or an existing cluster when RAY_ADDRESS is set (see ray_cluster.yaml).

Ray reads RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER when it is imported: `prepare_environment` must run
before the first `import ray` in the process. Token auth is disabled for the local cluster so that
no ~/.ray/auth_token is written; everything listens on 127.0.0.1 only.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from core.config import Settings

LOOPBACK_ENV = {
    "RAY_AUTH_MODE": "disabled",
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
    "RAY_USAGE_STATS_ENABLED": "0",
    "RAY_DEDUP_LOGS": "0",
}


def prepare_environment(settings: Settings) -> None:
    if settings.RAY_ADDRESS is None:
        for key, value in LOOPBACK_ENV.items():
            os.environ.setdefault(key, value)


def start_ray(settings: Settings, *, dashboard: bool = True) -> dict[str, Any]:
    import ray

    if settings.RAY_ADDRESS is not None:
        return ray.init(address=settings.RAY_ADDRESS, namespace="ustadh", configure_logging=False).address_info
    context = ray.init(
        num_cpus=settings.RAY_NUM_CPUS or os.cpu_count() or 2,
        object_store_memory=settings.RAY_OBJECT_STORE_MB * 1024 * 1024,
        include_dashboard=dashboard,
        dashboard_host="127.0.0.1",
        dashboard_port=settings.DASHBOARD_PORT,
        namespace="ustadh",
        configure_logging=False,
        log_to_driver=True,
    )
    return context.address_info


class NoRunningSystem(RuntimeError):
    """A command that works through the system's actors found no running Ray cluster."""


def ray_address_file(settings: Settings) -> Path:
    """Where `ustadh up` records the address of the Ray cluster it started for this DATA_DIR."""
    return settings.run_dir / "ray.address"


def join_running_system(settings: Settings) -> None:
    """Connect this process to the running system's Ray cluster: RAY_ADDRESS, else the one `ustadh up`
    started for this DATA_DIR, else the machine's latest local cluster."""
    prepare_environment(settings)
    import ray

    from actors import registry

    if ray.is_initialized():
        return
    try:
        ray.init(address=settings.RAY_ADDRESS or _recorded_address(settings) or "auto", namespace=registry.NAMESPACE, configure_logging=False,
                 log_to_driver=False)
    except ConnectionError as exc:
        raise NoRunningSystem(f"no running Ustadh found ({exc}); start it with `ustadh up`") from None


def _recorded_address(settings: Settings) -> str | None:
    path = ray_address_file(settings)
    return path.read_text().strip() or None if path.exists() else None
