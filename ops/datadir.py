"""Ownership of DATA_DIR: one live supervisor at a time, and what a dead one left behind.

`ustadh up` holds an exclusive flock on DATA_DIR/run/ustadh.lock for its whole life; the kernel
drops it when the process dies, even by SIGKILL, so a stale lock cannot block the next start. The
supervisor records the Ray processes it started (pid + start time); the next start stops any of
them still alive, since a few of Ray's agents outlive a SIGKILLed driver. `make_private` keeps
DATA_DIR's logs and run files to their owner.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
from pathlib import Path
from typing import IO

import psutil
from loguru import logger


def make_private(data_dir: Path) -> None:
    """DATA_DIR and its logs/run directories 0700, the plain files in them 0600 (an older version
    left them 0644). Other users may still traverse DATA_DIR where a server running as another
    user needs to (embedded PostgreSQL adds that bit itself)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    data_dir.chmod(0o700)
    for sub in ("logs", "run"):
        folder = data_dir / sub
        if not folder.is_dir():
            continue
        folder.chmod(0o700)
        for entry in folder.iterdir():
            if entry.is_file() and not entry.is_symlink():
                entry.chmod(0o600)


class DataDirBusy(RuntimeError):
    """Another `ustadh up` is running on this DATA_DIR."""


class DataDirLock:
    def __init__(self, run_dir: Path) -> None:
        self.path = run_dir / "ustadh.lock"
        self._file: IO[str] | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise DataDirBusy(f"another `ustadh up` is running on {self.path.parent.parent}") from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._file = handle

    def held_elsewhere(self) -> bool:
        """True when a live supervisor (not this process) holds the lock."""
        if self._file is not None or not self.path.exists():
            return False
        with self.path.open("a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(handle, fcntl.LOCK_UN)
        return False

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None


class ProcessRecord:
    """Pids (with start times, so a reused pid is never hit) of processes to stop if orphaned."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def save(self, processes: list[psutil.Process]) -> None:
        entries = [{"pid": p.pid, "started": p.create_time()} for p in processes if p.is_running()]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(entries))

    def stop_leftovers(self, timeout: float = 5.0) -> int:
        """Terminate recorded processes that are still alive; returns how many were found."""
        alive = [p for p in self._load() if p.is_running()]
        for proc in alive:  # any of them may exit meanwhile (stopping a parent ends its children)
            with contextlib.suppress(psutil.NoSuchProcess):
                logger.info("stopping a Ray process left running", pid=proc.pid, name=proc.name())
                proc.send_signal(signal.SIGTERM)
        _, still = psutil.wait_procs(alive, timeout=timeout)
        for proc in still:
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.kill()
        self.path.unlink(missing_ok=True)
        return len(alive)

    def _load(self) -> list[psutil.Process]:
        try:
            entries = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return []
        found = []
        for entry in entries:
            try:
                proc = psutil.Process(entry["pid"])
                if abs(proc.create_time() - entry["started"]) < 0.01:
                    found.append(proc)
            except (psutil.NoSuchProcess, KeyError, TypeError):
                continue
        return found
