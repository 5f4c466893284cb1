"""`ustadh up` as a newcomer runs it: embedded PostgreSQL and Redis, Ray on loopback, a ready line,
/healthz, Ctrl-C leaving nothing behind, and recovery after a `kill -9`."""
from __future__ import annotations

import ipaddress
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from core.config import load_settings
from ops.ray_local import haproxy_dir
from tests.conftest import free_port
from tests.corpus_texts import ARABIC, ARABIC_2

READY_TIMEOUT_S = 180


class UpProcess:
    """One `ustadh up` in its own process group, its output collected line by line."""

    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        ustadh = Path(sys.executable).with_name("ustadh")
        self.proc = subprocess.Popen([str(ustadh), "up"], env=env, cwd=cwd, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, start_new_session=True)
        self.lines: list[str] = []
        self.ready = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)
            if "Ustadh ready" in line:
                self.ready.set()

    def wait_ready(self) -> None:
        if not self.ready.wait(READY_TIMEOUT_S):
            raise AssertionError("no ready line:\n" + "".join(self.lines[-60:]))

    def descendants(self) -> list[psutil.Process]:
        return psutil.Process(self.proc.pid).children(recursive=True)

    def ctrl_c(self) -> int:
        os.killpg(self.proc.pid, signal.SIGINT)  # what a terminal does on Ctrl-C
        return self.proc.wait(120)


@pytest.fixture
def up_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    data_dir = Path("/tmp") / f"ustadh-up-{uuid.uuid4().hex[:8]}"
    data_dir.mkdir(mode=0o755)
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    env.update(DATA_DIR=str(data_dir), HOME=str(home), HTTP_PORT=str(free_port()),
               DASHBOARD_PORT=str(free_port()), HAPROXY_STATS_PORT=str(free_port()),
               HAPROXY_METRICS_PORT=str(free_port()), SERVE_FALLBACK_PORT=str(free_port()), PYTHONUNBUFFERED="1",
               LOCAL_LLM_MODEL="smollm2-135m", LOCAL_LLM_PORT=str(free_port()))
    yield env


def alive(processes: list[psutil.Process]) -> list[str]:
    return [f"{p.pid}:{p.name()}" for p in processes if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]


def wait_gone(processes: list[psutil.Process], timeout: float = 20) -> list[str]:
    deadline = time.monotonic() + timeout
    while alive(processes) and time.monotonic() < deadline:
        time.sleep(0.5)
    return alive(processes)


def listening_addresses(processes: list[psutil.Process]) -> dict[str, str]:
    """Listening TCP sockets and bound UDP sockets (which receive from anyone who can reach them)."""
    names = {p.pid: p.name() for p in processes}
    return {f"{names[c.pid]}:{c.type.name}:{c.laddr.port}": c.laddr.ip for c in psutil.net_connections(kind="inet")
            if c.pid in names and c.laddr and (c.status == psutil.CONN_LISTEN or c.type == socket.SOCK_DGRAM)}


def is_loopback(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    mapped = getattr(ip, "ipv4_mapped", None)
    return (mapped or ip).is_loopback


def ustadh(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [str(Path(sys.executable).with_name("ustadh")), *args]
    return subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=300)


def cli_ingest_and_reindex(env: dict[str, str], cwd: Path) -> None:
    """`ustadh ingest` and `ustadh reindex` reach the running system's actors, with progress bars."""
    lesson = cwd / "الدرس.md"
    lesson.write_text(f"# الماء\n\n{ARABIC_2}\n\n{ARABIC}", encoding="utf-8")
    broken = cwd / "broken.pdf"
    broken.write_bytes(b"%PDF-1.4\n1 0 obj garbage")
    ingest = ustadh(env, cwd, "ingest", str(lesson), str(broken))
    assert ingest.returncode == 1, ingest.stdout + ingest.stderr
    lines = ingest.stdout.splitlines()
    assert any(line.startswith(f"indexed  {lesson.as_uri()}") and "(ar)" in line for line in lines), lines
    assert any(line.startswith(f"failed   {broken.as_uri()}: corrupt:") for line in lines), lines
    assert "ingesting" in ingest.stderr  # the progress bar
    again = ustadh(env, cwd, "ingest", str(lesson))
    assert again.returncode == 0 and "unchanged" in again.stdout, again.stdout + again.stderr
    reindex = ustadh(env, cwd, "reindex")
    assert reindex.returncode == 0 and "is active" in reindex.stdout, reindex.stdout + reindex.stderr


def test_up_runs_on_embedded_defaults_recovers_from_kill_and_stops_clean(up_env: dict[str, str],
                                                                        tmp_path: Path) -> None:
    base = f"http://127.0.0.1:{up_env['HTTP_PORT']}"
    first = UpProcess(up_env, tmp_path)
    first.wait_ready()
    health = httpx.get(f"{base}/healthz", timeout=5)
    assert {"postgres", "redis", "milvus", "local_model"} <= set(health.json()["components"])
    assert health.status_code == 200, health.text
    assert any("local model smollm2-135m" in line for line in first.lines if "Ustadh ready" in line)
    assert httpx.get(f"http://127.0.0.1:{up_env['DASHBOARD_PORT']}/", timeout=5).status_code == 200
    jobs = f"http://127.0.0.1:{up_env['DASHBOARD_PORT']}/api/jobs/"  # Ray's job submission: runs any code
    token = (Path(up_env["DATA_DIR"]) / "run" / "ray_token").read_text().strip()
    assert httpx.get(jobs, timeout=5).status_code == 401
    assert httpx.get(jobs, headers={"Authorization": f"Bearer {token}"}, timeout=5).status_code == 200
    as_nobody = subprocess.run(["runuser", "-u", "nobody", "--", "/usr/bin/python3", "-c",
                                f"import urllib.request as r, urllib.error as e\ntry: r.urlopen({jobs!r}, timeout=5)\n"
                                "except e.HTTPError as x: print(x.code)"], capture_output=True, text=True, timeout=30)
    assert as_nobody.stdout.strip() == "401", as_nobody.stdout + as_nobody.stderr
    first_tree = first.descendants()
    names = {p.name() for p in first_tree}
    assert "postgres" in names and "redis-server" in names and "raylet" in names, names
    assert "haproxy" in names, names  # Serve's HTTP ingress, its stats and metrics listeners included below
    assert any("llama_cpp.server" in " ".join(p.cmdline()) for p in first_tree)  # goes with a kill -9 below
    addresses = listening_addresses(first_tree)
    exposed = {name: address for name, address in addresses.items() if not is_loopback(address)}
    assert addresses and not exposed, exposed
    data_dir = Path(up_env["DATA_DIR"])
    private = [data_dir / "logs" / "ustadh.jsonl", data_dir / "run" / "ustadh.lock", data_dir / "run" / "ray.address",
               data_dir / "run" / "ray_token", data_dir / "run" / f"llm_server-{up_env['LOCAL_LLM_PORT']}.json",
               data_dir / "logs" / "llm_server.log"]
    assert {str(p): oct(p.stat().st_mode & 0o777) for p in private} == {str(p): oct(0o600) for p in private}
    sockets = haproxy_dir(load_settings(DATA_DIR=data_dir))
    [admin_socket] = sockets.glob("*/admin.sock")  # under Ray's node id
    assert (oct(sockets.stat().st_mode & 0o777), oct(admin_socket.stat().st_mode & 0o777)) == (oct(0o700), oct(0o600))

    first.proc.kill()  # kill -9: no cleanup runs in the supervisor
    first.proc.wait(10)
    second = UpProcess(up_env, tmp_path)
    try:
        second.wait_ready()
        assert httpx.get(f"{base}/healthz", timeout=5).status_code == 200
        assert wait_gone(first_tree, timeout=5) == []
        cli_ingest_and_reindex(up_env, tmp_path)
        second_tree = second.descendants()
    finally:
        code = second.ctrl_c()
    assert code == 0, "".join(second.lines[-40:])
    assert wait_gone(second_tree) == []
    assert not (Path(up_env["HOME"]) / ".ray" / "auth_token").exists()
    assert not sockets.exists(), sorted(sockets.rglob("*"))  # no stale admin socket
    assert any("stopped" in line for line in second.lines[-5:])


def test_a_command_without_a_running_system_says_how_to_start_one(up_env: dict[str, str], tmp_path: Path,
                                                                  ray_system: Any) -> None:
    """A fresh DATA_DIR has no Ray token yet: a command that needs the running system says how to
    start one, instead of joining whatever local cluster runs (the tests' own here) and dying on
    Ray's AuthenticationError."""
    result = ustadh(up_env, tmp_path, "reindex")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "no running Ustadh found" in result.stderr and "ustadh up" in result.stderr, result.stderr
    assert not (Path(up_env["DATA_DIR"]) / "run" / "ray_token").exists()  # nothing was started or written
    stale = Path(up_env["DATA_DIR"]) / "run" / "ray_token"  # left by a run of this DATA_DIR that has ended
    stale.parent.mkdir(mode=0o700, parents=True)
    stale.write_text("0" * 64)
    refused = ustadh(up_env, tmp_path, "reindex")
    assert refused.returncode == 1 and "no running Ustadh found" in refused.stderr, refused.stderr[-2000:]
