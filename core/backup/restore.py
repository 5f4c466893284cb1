"""Restore: an export archive loaded into an empty system, or nothing changed.

In order, stopping at the first refusal: the archive is checked whole (`core.backup.archive`:
manifest, members, checksums) and its schema must not be newer than this code's; the target must
be empty (no row in any table, no vector in any collection) and not migrated past the archive's
schema. Then the target is migrated to the archive's schema version, the vectors are loaded (their
collections dropped again if anything later fails), the rows are loaded by pg_restore in one
transaction, and the remaining migrations run. The caller makes sure no system is running on the
target (a running one would keep caches of the empty state).
"""
from __future__ import annotations

import asyncio
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import psycopg
from psycopg import sql

from core.backup.archive import DATABASE, Archive, ArchiveError, Manifest, unpack_vectors, vectors_member
from core.backup.export import Progress, quiet
from core.db import dump
from core.db.migrate import applied_version, latest_version, migrate

_BATCH = 1000


class RestoreRefused(RuntimeError):
    """The target is not one a restore may write into; the message says why."""


class VectorTarget(Protocol):
    async def collections(self) -> dict[str, int]: ...

    async def ensure_collection(self, name: str, dimension: int) -> bool: ...

    async def upsert(self, name: str, ids: list[str], vectors: np.ndarray, metadata: list[dict[str, Any]]) -> int: ...

    async def flush(self, name: str) -> None: ...

    async def drop(self, name: str) -> None: ...


@dataclass(frozen=True)
class Restored:
    rows: int
    vectors: int
    missing: int
    schema_version: int


def check_schema(manifest: Manifest) -> None:
    """ArchiveError when the archive's schema is newer than this code's (checked before anything starts)."""
    if manifest.schema_version > latest_version():
        raise ArchiveError(f"the archive has schema version {manifest.schema_version}, newer than this "
                           f"version's {latest_version()}: restore it with the Ustadh that made it, or a newer one")


async def restore(archive: Archive, database_url: str, vectors: VectorTarget, progress: Progress = quiet) -> Restored:
    manifest = archive.manifest
    check_schema(manifest)
    await asyncio.to_thread(_check_database, database_url, manifest.schema_version)
    held = {name: n for name, n in (await vectors.collections()).items() if n}
    if held:
        raise RestoreRefused(f"the target is not empty: Milvus holds vectors ({_listed(held)})")
    await asyncio.to_thread(migrate, database_url, upto=manifest.schema_version)
    created: list[str] = []
    try:
        loaded = await _load_vectors(archive, vectors, created, progress)
        with tempfile.TemporaryDirectory(prefix=".restore-") as work:
            progress("database", 0, 1)
            await asyncio.to_thread(dump.restore, database_url, archive.extract(DATABASE, Path(work) / DATABASE))
            progress("database", 1, 1)
    except BaseException:
        for name in created:
            await vectors.drop(name)
        raise
    await asyncio.to_thread(migrate, database_url)
    return Restored(rows=sum(manifest.tables.values()), vectors=loaded,
                    missing=sum(c.missing for c in manifest.collections), schema_version=manifest.schema_version)


def _check_database(database_url: str, archive_version: int) -> None:
    with psycopg.connect(database_url, connect_timeout=10) as conn:
        version = applied_version(conn)
        if version is None:
            return
        tables = [r[0] for r in conn.execute(dump.DATA_TABLES).fetchall()]
        held = [table for table in tables if conn.execute(sql.SQL("SELECT EXISTS (SELECT 1 FROM {})").format(
            sql.Identifier(table))).fetchone() == (True,)]
        if held:
            raise RestoreRefused(f"the target database is not empty (rows in {', '.join(held)}): "
                                 "restore into a new DATA_DIR or an empty database")
        if version > archive_version:
            raise RestoreRefused(f"the target database is at schema version {version}, past the archive's "
                                 f"{archive_version}: restore into a database never migrated")


async def _load_vectors(archive: Archive, vectors: VectorTarget, created: list[str], progress: Progress) -> int:
    loaded = 0
    for collection in archive.manifest.collections:
        ids, matrix, metadata = unpack_vectors(archive.read(vectors_member(collection.name)))
        if await vectors.ensure_collection(collection.name, collection.dimension):
            created.append(collection.name)
        for start in range(0, len(ids), _BATCH):
            end = start + _BATCH
            loaded += await vectors.upsert(collection.name, ids[start:end], matrix[start:end], metadata[start:end])
            progress(f"vectors {collection.name}", min(end, len(ids)), len(ids))
        await vectors.flush(collection.name)
    return loaded


def _listed(counts: dict[str, int]) -> str:
    return ", ".join(f"{name}: {n}" for name, n in counts.items())
