"""`ustadh up`: start everything in order, print a ready line, stop everything on Ctrl-C/SIGTERM.

Order: lock DATA_DIR, stop leftovers of a killed run, embedded PostgreSQL/Redis (when not
configured), migrations, the local model server (no LLM endpoint configured and LOCAL_LLM=auto;
`ops.local_llm`), Ray (loopback), system actors, the Telegram bot (when a token is set), the Serve
gateway. Shutdown runs the same list backwards, and removes HAProxy's socket directory.

Everything the system writes is its user's alone: the supervisor runs with umask 077, which every
process it starts (Ray, HAProxy, the embedded servers) inherits, and makes what an older version
left under DATA_DIR/logs and DATA_DIR/run owner-only (`ops.datadir.make_private`).
"""
from __future__ import annotations

import contextlib
import os
import shutil
import signal
import threading
from contextlib import ExitStack
from pathlib import Path

import psutil
from loguru import logger

from core.config import Settings
from core.db.migrate import migrate
from ops import local_llm
from ops.datadir import DataDirLock, ProcessRecord, make_private
from ops.embedded import remove_socket_dirs
from ops.ray_local import haproxy_dir, prepare_environment, ray_address_file, ray_token_path, start_ray
from ops.services import EmbeddedServers


class Supervisor:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.stop_requested = threading.Event()
        self.ray_record = ProcessRecord(settings.run_dir / "ray.pids")
        self.local_model: local_llm.LocalModelServer | None = None

    def run(self) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: self.stop_requested.set())
        os.umask(0o077)
        make_private(self.settings.DATA_DIR)
        with ExitStack() as stack:
            lock = DataDirLock(self.settings.run_dir)
            lock.acquire()
            stack.callback(lock.release)
            if leftovers := self.ray_record.stop_leftovers():
                logger.warning("stopped {} Ray processes left by an earlier run that did not exit cleanly", leftovers)
            if strays := stop_haproxies(haproxy_dir(self.settings)):
                logger.warning("stopped {} HAProxy processes left by an earlier run", strays)
            servers = EmbeddedServers(self.settings)
            stack.callback(servers.stop)
            stack.callback(remove_socket_dirs, self.settings.DATA_DIR)
            settings = servers.start()
            applied = migrate(settings.DATABASE_URL or "")
            logger.info("schema up to date", applied=len(applied))
            settings = self._start_local_model(settings, stack)
            if self.stop_requested.is_set():
                return
            stack.callback(self._stop_ray)
            self._start_ray_side(settings, stack)
            self._announce(settings)
            self.stop_requested.wait()
            logger.info("stopping")
        logger.info("stopped")

    def _start_local_model(self, settings: Settings, stack: ExitStack) -> Settings:
        """Settings pointing at the local model server, started when no endpoint is configured;
        unchanged (extractive answers) when it is off or cannot run here, which is said once."""
        if not local_llm.wanted(settings):
            return settings
        if reason := local_llm.unavailable_reason(settings):
            logger.warning("no local model: answers and quizzes are extractive ({})", reason)
            return settings
        server = local_llm.LocalModelServer(settings)
        stack.callback(server.stop)
        self.local_model = server
        return server.start()

    def _start_ray_side(self, settings: Settings, stack: ExitStack) -> None:
        prepare_environment(settings)  # before the first `import ray`
        import ray
        from ray import serve

        from actors import registry
        from ops.system_actors import start_actors
        from serve_app import applications

        address = start_ray(settings).get("gcs_address")
        if address:
            ray_address_file(settings).write_text(address)
            stack.callback(ray_address_file(settings).unlink, missing_ok=True)
        handles = start_actors(settings)
        ray.get([h.ping.remote() for h in handles.values()])
        if registry.TELEGRAM_BOT in handles:
            bot = handles[registry.TELEGRAM_BOT]
            logger.info("telegram bot", mode=ray.get(bot.start.remote()))
            stack.callback(lambda: ray.get(bot.stop.remote(), timeout=10))
        stack.callback(serve.shutdown)
        applications.start(settings, settings.HTTP_HOST)
        self._record_ray_processes()

    def _record_ray_processes(self) -> None:
        ours = {"postgres", "redis-server"}
        model_pid = self.local_model.pid if self.local_model is not None else None
        children = psutil.Process().children(recursive=True)
        self.ray_record.save([p for p in children if p.name() not in ours and p.pid != model_pid])

    def _stop_ray(self) -> None:
        import ray

        ray.shutdown()
        self.ray_record.stop_leftovers(timeout=10)
        shutil.rmtree(haproxy_dir(self.settings), ignore_errors=True)  # its admin socket would outlive us

    def _announce(self, settings: Settings) -> None:
        base = f"http://{settings.HTTP_HOST}:{settings.HTTP_PORT}"
        token = ray_token_path()
        dashboard = "" if settings.RAY_ADDRESS else (f", Ray dashboard http://127.0.0.1:{settings.DASHBOARD_PORT}"
                                                     + (f" (its token: {token})" if token else ""))
        model = (f", local model {settings.LOCAL_LLM_MODEL} at {settings.LOCAL_LLM_URL}" if settings.llm_local
                 else "")
        logger.info("Ustadh ready: API {}/healthz{}{}", base, dashboard, model)


def stop_haproxies(folder: Path, timeout: float = 5.0) -> int:
    """Kill the HAProxy processes still running on this DATA_DIR's config (`folder` is in their
    command line) after a run was killed: Serve reloads HAProxy under new process ids, so they may
    be missing from the process record, and would keep holding HTTP_PORT and the stats ports."""
    mine = [p for p in psutil.process_iter(["cmdline"]) if str(folder) in " ".join(p.info["cmdline"] or [])]
    for proc in mine:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()
    psutil.wait_procs(mine, timeout=timeout)
    return len(mine)
