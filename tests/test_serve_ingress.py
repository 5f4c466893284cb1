"""Serve's HTTP ingress on one machine: Ray's HAProxy, run through ops/haproxy_loopback.sh so that
every listener it opens stays on loopback and its admin socket is the owner's alone (tested as the
OS user `nobody`), or Ray's Python proxy when asked for."""
from __future__ import annotations

import os
import pwd
import subprocess
import time
from pathlib import Path

import psutil
import pytest

from core.config import Settings, load_settings
from ops.ray_local import (
    HAPROXY_LOOPBACK,
    HAPROXY_SOCKET_PATH_MAX,
    claim_private_dir,
    haproxy_dir,
    serve_ingress_environment,
)
from tests.conftest import free_port

# The listeners of the config Ray Serve 2.60 writes (haproxy_templates.py), the API's first.
RAY_LISTENERS = """global
    maxconn 64
defaults
    mode http
    timeout connect 5s
    timeout client 5s
    timeout server 5s
frontend http_frontend
    bind {api}:{api_port}
    default_backend none
backend none
frontend prometheus
    bind :{metrics_port}
    mode http
    http-request use-service prometheus-exporter if {{ path /metrics }}
    no log
listen stats
  bind *:{stats_port}
  stats enable
  stats uri /stats
"""


def binds(config: str) -> list[str]:
    return [line.split()[1] for line in config.splitlines() if line.strip().startswith("bind ")]


@pytest.mark.parametrize("api", ["127.0.0.1", "0.0.0.0"])
def test_the_wrapper_moves_every_interface_listeners_to_loopback_and_haproxy_accepts_the_result(
        tmp_path: Path, settings: Settings, api: str) -> None:
    config = tmp_path / "haproxy.cfg"
    config.write_text(RAY_LISTENERS.format(api=api, api_port=18000, metrics_port=19101, stats_port=18404))
    environment = {**os.environ, **serve_ingress_environment(settings)}
    check = subprocess.run([str(HAPROXY_LOOPBACK), "-c", "-f", str(config)], env=environment,
                           capture_output=True, text=True, timeout=30)
    assert check.returncode == 0 and "valid" in check.stdout + check.stderr, check.stdout + check.stderr
    # The API keeps the address it was given (HTTP_HOST may expose it on purpose); the rest moves.
    assert binds((tmp_path / "haproxy.cfg.loopback").read_text()) == [
        f"{api}:18000", "127.0.0.1:19101", "127.0.0.1:18404"]
    assert binds(config.read_text())[1:] == [":19101", "*:18404"]  # Ray's own file is left as written


def test_the_wrapper_runs_haproxy_under_its_own_process_id(tmp_path: Path, settings: Settings) -> None:
    """Ray's HAProxyManager signals the pid it started (reloads with -sf): the wrapper must exec."""
    port = free_port()
    config = tmp_path / "haproxy.cfg"
    config.write_text(RAY_LISTENERS.format(api="127.0.0.1", api_port=port, metrics_port=free_port(),
                                           stats_port=free_port()))
    environment = {**os.environ, **serve_ingress_environment(settings)}
    proc = subprocess.Popen([str(HAPROXY_LOOPBACK), "-db", "-f", str(config)], env=environment,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        command = [""]
        for _ in range(50):  # the shell runs first, then becomes haproxy
            command = Path(f"/proc/{proc.pid}/cmdline").read_bytes().decode().split("\0")
            if Path(command[0]).name == "haproxy":
                break
            time.sleep(0.1)
        assert Path(command[0]).name == "haproxy" and f"{config}.loopback" in command, command
        assert proc.poll() is None  # serving, not exited
    finally:
        proc.terminate()
        proc.wait(10)


def test_the_environment_names_the_settings_ports_and_an_executable_wrapper(settings: Settings) -> None:
    environment = serve_ingress_environment(settings)
    assert environment["RAY_SERVE_ENABLE_HA_PROXY"] == "1"
    assert os.access(environment["RAY_SERVE_HAPROXY_BINARY_PATH"], os.X_OK)
    assert Path(environment["USTADH_HAPROXY_BINARY"]).name == "haproxy"
    assert (environment["RAY_SERVE_HAPROXY_STATS_PORT"], environment["RAY_SERVE_HAPROXY_METRICS_PORT"],
            environment["RAY_SERVE_FALLBACK_PROXY_HTTP_PORT"]) == (
        str(settings.HAPROXY_STATS_PORT), str(settings.HAPROXY_METRICS_PORT), str(settings.SERVE_FALLBACK_PORT))


def test_proxy_mode_leaves_ray_serves_python_proxy(tmp_path: Path) -> None:
    assert serve_ingress_environment(load_settings(_env_file=None, DATA_DIR=tmp_path, SERVE_INGRESS="proxy")) == {}


OTHER_PYTHON = "/usr/bin/python3"  # the system's: another user cannot run this venv's (it links into /root)


def as_nobody(code: str) -> subprocess.CompletedProcess[str]:
    """Run `code` (standard library only) as the unprivileged user `nobody`."""
    return subprocess.run(["runuser", "-u", "nobody", "--", OTHER_PYTHON, "-c", code],
                          capture_output=True, text=True, timeout=30)


@pytest.mark.skipif(os.geteuid() != 0 or not os.access(OTHER_PYTHON, os.X_OK),
                    reason="needs root and a system Python to act as another OS user")
def test_haproxy_keeps_its_admin_socket_owner_only_and_opens_no_udp_socket(tmp_path: Path,
                                                                          settings: Settings) -> None:
    sockets = tmp_path / "haproxy"
    sockets.mkdir(mode=0o711)  # traversable: the socket's own mode is what is tested
    config = tmp_path / "haproxy.cfg"
    ray_global = (f"global\n    log 127.0.0.1:514 local0 info\n"
                  f"    stats socket {sockets}/admin.sock mode 666 level admin expose-fd listeners\n")
    config.write_text(ray_global + RAY_LISTENERS.format(api="127.0.0.1", api_port=free_port(),
                                                        metrics_port=free_port(), stats_port=free_port())
                      .removeprefix("global\n"))
    environment = {**os.environ, **serve_ingress_environment(settings)}
    proc = subprocess.Popen([str(HAPROXY_LOOPBACK), "-db", "-f", str(config)], env=environment,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    admin = sockets / "admin.sock"
    try:
        for _ in range(100):
            if admin.exists() and Path(f"/proc/{proc.pid}/exe").resolve().name == "haproxy":
                break
            time.sleep(0.1)
        assert oct(admin.stat().st_mode & 0o777) == oct(0o600)
        udp = [c.laddr for c in psutil.Process(proc.pid).net_connections(kind="udp")]
        assert udp == [], udp
        refused = as_nobody(f"import socket; s = socket.socket(socket.AF_UNIX); s.connect({str(admin)!r}); "
                            "s.sendall(b'show info\\n'); print(s.recv(100))")
        assert refused.returncode != 0 and "PermissionError" in refused.stderr, refused.stdout + refused.stderr
    finally:
        proc.terminate()
        proc.wait(10)


def test_haproxy_files_live_in_this_data_dirs_own_directory(settings: Settings) -> None:
    environment = serve_ingress_environment(settings)
    paths = {name: value for name, value in environment.items() if name.startswith("RAY_SERVE_HAPROXY_")
             and name.endswith(("_PATH", "_LOC", "_BASE", "_FILE")) and name != "RAY_SERVE_HAPROXY_BINARY_PATH"}
    assert len(paths) == 5, paths
    for name, value in paths.items():
        assert haproxy_dir(settings) in (Path(value), *Path(value).parents), (name, value)
    longest = haproxy_dir(settings) / ("0" * 56) / "metrics.sock"  # Ray adds the node id
    assert len(str(longest)) <= HAPROXY_SOCKET_PATH_MAX, longest


def test_a_haproxy_directory_planted_by_another_user_is_refused(tmp_path: Path) -> None:
    planted = tmp_path / "planted"
    planted.mkdir(mode=0o777)
    nobody = pwd.getpwnam("nobody")
    os.chown(planted, nobody.pw_uid, nobody.pw_gid)
    with pytest.raises(PermissionError, match="not a directory of this user"):
        claim_private_dir(planted)
    (tmp_path / "link").symlink_to(tmp_path)
    with pytest.raises(PermissionError):
        claim_private_dir(tmp_path / "link")
    mine = tmp_path / "mine"
    claim_private_dir(mine)
    assert oct(mine.stat().st_mode & 0o777) == oct(0o700)
