"""The local model server `ustadh up` runs when no LLM endpoint is configured (LOCAL_LLM=auto).

It is llama-cpp-python's own OpenAI-compatible server (`python -m llama_cpp.server`), a child
process of the supervisor like embedded PostgreSQL: bound to 127.0.0.1:LOCAL_LLM_PORT, started with
a parent-death signal (a `kill -9` of `ustadh up` takes it down; a leftover found through its pid
file is stopped at the next start), restarted by a watchdog thread when it dies on its own, and
stopped on Ctrl-C. Its configuration is a 0600 JSON file (CONFIG_FILE) rather than arguments, so
the API key that keeps other local users out never shows in `ps`. Requests are served one at a
time in arrival order (`interrupt_requests` off: a new request waits instead of cutting off the
one being streamed). `logits_all` is off: the server's default keeps the logits of every prompt
token, which costs prompt processing time and memory for nothing a chat completion uses.

When the runtime or the model's packages are missing, `ustadh up` says so and runs without it
(answers and quizzes then take the extractive path), as LOCAL_LLM=off does.
"""
from __future__ import annotations

import importlib.util
import json
import secrets
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil
from loguru import logger
from pydantic import SecretStr

from core.config import Settings
from core.llm.local_models import MODELS, ModelMissing, model_file
from ops.embedded import EmbeddedError, _die_with_parent, _stop_pid

_RESTART_BACKOFF_S = (1.0, 2.0, 5.0, 10.0, 30.0)


def wanted(settings: Settings) -> bool:
    return settings.LOCAL_LLM == "auto" and not settings.llm_endpoint_configured


def unavailable_reason(settings: Settings) -> str | None:
    """Why the local model cannot run here (None when it can)."""
    if importlib.util.find_spec("llama_cpp") is None:
        return "the llama-cpp-python runtime is not installed (`make run` installs it)"
    try:
        model_file(MODELS[settings.LOCAL_LLM_MODEL], settings.models_dir)
    except ModelMissing as exc:
        return str(exc)
    return None


class LocalModelServer:
    """One supervised llama-cpp-python server; `start` returns the settings that point at it."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.model = MODELS[settings.LOCAL_LLM_MODEL]
        port = settings.LOCAL_LLM_PORT  # run files per port: a leftover is the one that held this port
        self.config = settings.run_dir / f"llm_server-{port}.json"
        self.pidfile = settings.run_dir / f"llm_server-{port}.pid"
        self.log = settings.DATA_DIR / "logs" / "llm_server.log"
        self.url = f"http://127.0.0.1:{settings.LOCAL_LLM_PORT}/v1"
        self.key = secrets.token_urlsafe(24)
        self.proc: subprocess.Popen[bytes] | None = None
        self.restarts = 0
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._watchdog: threading.Thread | None = None

    def start(self, timeout: float = 120.0) -> Settings:
        path = model_file(self.model, self.settings.models_dir)
        self._stop_leftover()
        self._write_config(path)
        self._spawn()
        self._wait_ready(timeout)
        logger.info("local model server ready", model=self.model.name, url=self.url, pid=self.proc.pid if self.proc else None)
        self._watchdog = threading.Thread(target=self._watch, name="local-llm-watchdog", daemon=True)
        self._watchdog.start()
        return self.settings.model_copy(update={"LOCAL_LLM_URL": self.url, "LOCAL_LLM_KEY": SecretStr(self.key)})

    def stop(self) -> None:
        self._stopping.set()
        with self._lock:
            proc = self.proc
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            logger.info("local model server stopped")
        self.pidfile.unlink(missing_ok=True)

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def _write_config(self, model_path: Path) -> None:
        config = {"host": "127.0.0.1", "port": self.settings.LOCAL_LLM_PORT, "api_key": self.key,
                  "interrupt_requests": False,
                  "models": [{"model": str(model_path), "model_alias": self.model.name,
                              "n_ctx": self.settings.LOCAL_LLM_CONTEXT, "n_threads": self.settings.LOCAL_LLM_THREADS,
                              "n_threads_batch": self.settings.LOCAL_LLM_THREADS, "verbose": False,
                              "logits_all": False}]}
        self.config.parent.mkdir(parents=True, exist_ok=True)
        self.config.touch(mode=0o600)
        self.config.chmod(0o600)
        self.config.write_text(json.dumps(config))

    def _spawn(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        env = {"CONFIG_FILE": str(self.config), "PATH": "/usr/bin:/bin", "HOME": str(self.settings.DATA_DIR)}
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server"], stdout=out,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                         start_new_session=True,
                                         preexec_fn=lambda: _die_with_parent(signal.SIGTERM))
        self.pidfile.write_text(str(self.proc.pid))

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        headers = {"Authorization": f"Bearer {self.key}"}
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise EmbeddedError(f"the local model server exited at start; see {self.log}")
            try:
                with urllib.request.urlopen(urllib.request.Request(f"{self.url}/models", headers=headers), timeout=2):
                    return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.25)
        raise EmbeddedError(f"the local model server did not become ready in {timeout:.0f} s; see {self.log}")

    def _watch(self) -> None:
        """Restart the server when it exits while we are not stopping (backing off between tries)."""
        failures = 0
        while not self._stopping.is_set():
            proc = self.proc
            if proc is None or proc.poll() is None:
                self._stopping.wait(0.5)
                continue
            if self._stopping.is_set():
                return
            pause = _RESTART_BACKOFF_S[min(failures, len(_RESTART_BACKOFF_S) - 1)]
            logger.error("the local model server exited; restarting it", code=proc.returncode, in_s=pause)
            if self._stopping.wait(pause):
                return
            try:
                with self._lock:  # stop() cannot slip between the check and the new process
                    if self._stopping.is_set():
                        return
                    self._spawn()
                self._wait_ready(120.0)
                self.restarts, failures = self.restarts + 1, 0
                logger.info("local model server restarted", restarts=self.restarts)
            except EmbeddedError as exc:
                failures += 1
                logger.error("local model server restart failed", error=str(exc))

    def _stop_leftover(self) -> None:
        try:
            pid = int(self.pidfile.read_text().strip())
        except (OSError, ValueError):
            return
        try:
            cmdline = " ".join(psutil.Process(pid).cmdline())
        except psutil.Error:
            return
        if "llama_cpp.server" in cmdline:
            _stop_pid(pid, signal.SIGTERM, "local model server")
