"""Resolving the stores: configured URLs, or the embedded servers under DATA_DIR.

The supervisor starts embedded servers for whatever is not configured. CLI commands that need the
database while no supervisor runs start them for their own duration; while one runs they use its
servers (their sockets sit at fixed places under DATA_DIR).
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

from core.config import Settings
from ops.datadir import DataDirLock
from ops.embedded import EmbeddedPostgres, EmbeddedRedis


class EmbeddedServers:
    """Starts the embedded servers the settings call for; `resolved` carries their URLs."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.postgres = EmbeddedPostgres(settings.DATA_DIR) if settings.DATABASE_URL is None else None
        self.redis = EmbeddedRedis(settings.DATA_DIR) if settings.REDIS_URL is None else None

    def start(self) -> Settings:
        updates: dict[str, str] = {}
        if self.postgres is not None:
            updates["DATABASE_URL"] = self.postgres.start()
        if self.redis is not None:
            updates["REDIS_URL"] = self.redis.start()
        return self.settings.model_copy(update=updates)

    def stop(self) -> None:
        for server in (self.redis, self.postgres):
            if server is not None:
                server.stop()


@contextmanager
def resolved_settings(settings: Settings) -> Iterator[Settings]:
    """Settings with working DATABASE_URL and REDIS_URL for a one-off CLI command."""
    lock = DataDirLock(settings.run_dir)
    if lock.held_elsewhere():
        updates = {}
        if settings.DATABASE_URL is None:
            updates["DATABASE_URL"] = EmbeddedPostgres(settings.DATA_DIR).url
        if settings.REDIS_URL is None:
            updates["REDIS_URL"] = EmbeddedRedis(settings.DATA_DIR).url
        yield settings.model_copy(update=updates)
        return
    with ExitStack() as stack:
        lock.acquire()
        stack.callback(lock.release)
        servers = EmbeddedServers(settings)
        stack.callback(servers.stop)
        yield servers.start()
