"""A two-node Ray cluster on one machine, as an operator starts one (`ray start --head`, then `ray
start --address` for a worker node with its own raylet and resources, on 127.0.0.2): for trying a
cluster setup without a second machine, `tests/test_cluster.py` and `bench/autoscale.py`.
`kill_worker` ends the worker node's processes at once, as a machine that dies would.
"""
from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import psutil

BIN = Path(sys.executable).parent
WORKER_IP = "127.0.0.2"


class TwoNodeCluster:
    """The head on 127.0.0.1 and one worker node on WORKER_IP, each with `cpus` CPUs; `port()` hands
    out the free loopback ports every Ray listener gets (two raylets on one machine must not meet
    on Ray's fixed defaults)."""

    def __init__(self, env: dict[str, str], temp_dir: Path, port: Callable[[], int], cpus: int = 2) -> None:
        self.env, self.temp_dir, self.port, self.cpus = env, temp_dir, port, cpus
        self.address = f"127.0.0.1:{port()}"
        self.dashboard = f"http://127.0.0.1:{port()}"  # Ray's state API (`ray list`) is served there

    def start(self) -> None:
        self._ray("--head", "--node-ip-address=127.0.0.1", f"--port={self.address.rsplit(':', 1)[1]}",
                  "--include-dashboard=true", "--dashboard-host=127.0.0.1",
                  f"--dashboard-port={self.dashboard.rsplit(':', 1)[1]}", f"--temp-dir={self.temp_dir}",
                  f"--ray-client-server-port={self.port()}", '--resources={"head_node": 1}')
        self._ray(f"--address={self.address}", f"--node-ip-address={WORKER_IP}", '--resources={"worker_node": 1}')

    def _ray(self, *args: str) -> None:
        ports = [f"--{name}-port={self.port()}" for name in ("dashboard-agent-listen", "dashboard-agent-grpc",
                                                              "metrics-export", "runtime-env-agent", "node-manager",
                                                              "object-manager")]
        done = subprocess.run([str(BIN / "ray"), "start", *args, f"--num-cpus={self.cpus}", *ports,
                               "--disable-usage-stats"], env=self.env, capture_output=True, text=True, timeout=180)
        if done.returncode != 0:
            raise RuntimeError(f"ray start {args[0]} failed: {done.stdout[-2000:]}{done.stderr[-2000:]}")

    def processes(self, worker_only: bool = False) -> list[psutil.Process]:
        """This cluster's processes (the worker node's only, with `worker_only`)."""
        found = []
        for proc in psutil.process_iter(["cmdline"]):
            line = " ".join(proc.info["cmdline"] or [])
            ours = str(self.temp_dir) in line or self.address in line or (WORKER_IP in line and "ray" in line)
            if ours and (not worker_only or WORKER_IP in line):
                found.append(proc)
        return found

    def kill_worker(self) -> int:
        """SIGKILL every process of the worker node; how many there were."""
        return _kill(self.processes(worker_only=True))

    def stop(self) -> None:
        _kill(self.processes())


def _kill(processes: list[psutil.Process]) -> int:
    for proc in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.send_signal(signal.SIGKILL)
    return len(processes)
