"""Numbered SQL migrations: applied in order, each in its own transaction, recorded once.

Files are `migrations/NNNN_name.sql`. A session-level advisory lock keeps two processes from
migrating at once. A failing file is rolled back whole and reported by name; the ones before it
stay applied. A recorded file whose content changed is refused (checksums in `schema_migrations`).
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import psycopg
from loguru import logger

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"
_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
_LOCK_KEY = 0x75737461  # "usta"


class MigrationError(RuntimeError):
    """A migration could not be applied; `filename` names it."""

    def __init__(self, filename: str, reason: str) -> None:
        super().__init__(f"migration {filename} failed: {reason}")
        self.filename = filename


@dataclass(frozen=True)
class Migration:
    version: int
    path: Path

    @property
    def sql(self) -> str:
        return self.path.read_text(encoding="utf-8")

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


def latest_version(directory: Path = MIGRATIONS_DIR) -> int:
    """The schema version this code brings a database to."""
    return max((m.version for m in discover(directory)), default=0)


def applied_version(conn: psycopg.Connection) -> int | None:
    """The newest migration recorded in a database; None for a database never migrated."""
    if conn.execute("SELECT to_regclass('schema_migrations')").fetchone()[0] is None:
        return None
    return conn.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()[0]


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """Every migration file in version order; a malformed name or duplicate version is an error."""
    found: dict[int, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = _NAME.match(path.name)
        if not match:
            raise MigrationError(path.name, "name must look like 0001_snake_case.sql")
        version = int(match.group(1))
        if version in found:
            raise MigrationError(path.name, f"version {version} is used twice")
        found[version] = Migration(version, path)
    return [found[v] for v in sorted(found)]


def _ensure_table(conn: psycopg.Connection) -> None:
    conn.execute("""CREATE TABLE IF NOT EXISTS schema_migrations (
        version INT PRIMARY KEY, filename TEXT NOT NULL, checksum TEXT NOT NULL,
        applied_at TIMESTAMPTZ NOT NULL DEFAULT now())""")


def _applied(conn: psycopg.Connection) -> dict[int, tuple[str, str]]:
    rows = conn.execute("SELECT version, filename, checksum FROM schema_migrations").fetchall()
    return {version: (filename, checksum) for version, filename, checksum in rows}


def _apply_one(conn: psycopg.Connection, migration: Migration) -> None:
    try:
        with conn.transaction():
            conn.execute(migration.sql)
            conn.execute("INSERT INTO schema_migrations (version, filename, checksum) VALUES (%s, %s, %s)",
                         (migration.version, migration.path.name, migration.checksum))
    except psycopg.Error as exc:
        raise MigrationError(migration.path.name, str(exc).strip()) from exc


def migrate(database_url: str, directory: Path = MIGRATIONS_DIR, upto: int | None = None) -> list[str]:
    """Apply pending migrations (up to version `upto` when given, as a restore of an older export
    needs); returns the file names applied now (empty when up to date)."""
    migrations = [m for m in discover(directory) if upto is None or m.version <= upto]
    applied_now: list[str] = []
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
        try:
            _ensure_table(conn)
            done = _applied(conn)
            for migration in migrations:
                if migration.version in done:
                    if done[migration.version][1] != migration.checksum:
                        raise MigrationError(migration.path.name, "already applied with different content")
                    continue
                _apply_one(conn, migration)
                logger.info("migration applied", file=migration.path.name)
                applied_now.append(migration.path.name)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
    return applied_now
