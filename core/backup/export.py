"""Export: one consistent snapshot of everything a restore needs, written as an archive
(`core.backup.archive`), and the rotation of the scheduled ones.

A read-only REPEATABLE READ transaction exports its snapshot; pg_dump reads the database as of it
(users, token hashes, the wallet tables, documents, chunks, embedding records, sources, crawls,
quizzes and attempts, the learners' request record: every table but the migration record), and the
same transaction says which vectors go with those rows: each collection's `embedding_refs`. Those
are then read from Milvus by id (`VectorSource`: the VectorStore actor, or the store itself when no
system runs), so a vector written after the snapshot is left out and one deleted since is counted
as missing. Runs from `ustadh export` and from the Scheduler actor (EXPORT_EVERY_H, keeping the
last EXPORT_KEEP under DATA_DIR/exports).
"""
from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import psycopg
from psycopg import IsolationLevel, sql
from psycopg.rows import dict_row

from core.backup.archive import DATABASE, Collection, Manifest, pack_vectors, vectors_member, write
from core.db import dump

Progress = Callable[[str, int, int], None]  # stage, done, total
_BATCH = 1000
_PREFIX = "ustadh-export-"


class VectorSource(Protocol):
    async def rows(self, name: str, ids: list[str]) -> tuple[list[str], np.ndarray, list[dict[str, Any]]]: ...


def quiet(_: str, __: int, ___: int) -> None:
    """A `Progress` that shows nothing (the Scheduler's exports)."""


async def export(database_url: str, vectors: VectorSource, path: Path, progress: Progress = quiet) -> Manifest:
    """Write the archive to `path` (whole, or not at all); its manifest."""
    with tempfile.TemporaryDirectory(prefix=".export-", dir=path.parent) as work:
        members = {DATABASE: Path(work) / DATABASE}
        version, tables, refs = await _dump(database_url, members[DATABASE], progress)
        collections = []
        for name, (dimension, ids) in refs.items():
            member = Path(work) / f"{name}.npz"
            collections.append(await _vectors(vectors, name, dimension, ids, member, progress))
            members[vectors_member(name)] = member
        manifest = Manifest(schema_version=version, created_at=datetime.now(UTC).isoformat(), tables=tables,
                            collections=collections)
        return write(path, manifest, members)


async def _dump(database_url: str, to: Path, progress: Progress
                ) -> tuple[int, dict[str, int], dict[str, tuple[int, list[str]]]]:
    """pg_dump of one snapshot, and from the same snapshot: the schema version, the rows per table
    and each collection's embedded chunk ids. The snapshot's transaction ends with the dump, before
    the vectors are read (a long-open transaction holds back PostgreSQL's vacuum)."""
    conn = await psycopg.AsyncConnection.connect(database_url, row_factory=dict_row, connect_timeout=10,
                                                 application_name="export")
    async with conn:
        await conn.set_isolation_level(IsolationLevel.REPEATABLE_READ)
        await conn.set_read_only(True)
        async with conn.transaction():
            snapshot = await _one(conn, sql.SQL("SELECT pg_export_snapshot()"))
            version = int(await _one(conn, sql.SQL("SELECT coalesce(max(version), 0) FROM schema_migrations")))
            tables = await _counts(conn)
            refs = await _refs(conn)
            progress("database", 0, 1)
            await asyncio.to_thread(dump.dump, database_url, conn.info.server_version // 10000, snapshot, to)
            progress("database", 1, 1)
    return version, tables, refs


async def _counts(conn: psycopg.AsyncConnection[dict[str, Any]]) -> dict[str, int]:
    rows = await (await conn.execute(dump.DATA_TABLES)).fetchall()
    return {row["tablename"]: int(await _one(conn, sql.SQL("SELECT count(*) FROM {}").format(
        sql.Identifier(row["tablename"])))) for row in rows}


async def _one(conn: psycopg.AsyncConnection[dict[str, Any]], query: sql.Composable) -> Any:
    row = await (await conn.execute(query)).fetchone()
    assert row is not None
    return next(iter(row.values()))


async def _refs(conn: psycopg.AsyncConnection[dict[str, Any]]) -> dict[str, tuple[int, list[str]]]:
    """collection -> (dimension, the chunk ids recorded as embedded in it)."""
    rows = await (await conn.execute(
        "SELECT c.name, c.dimension, r.chunk_id FROM vector_collections c "
        "LEFT JOIN embedding_refs r ON r.collection = c.name ORDER BY c.name, r.chunk_id")).fetchall()
    refs: dict[str, tuple[int, list[str]]] = {}
    for row in rows:
        _, ids = refs.setdefault(row["name"], (int(row["dimension"]), []))
        if row["chunk_id"] is not None:
            ids.append(row["chunk_id"])
    return refs


async def _vectors(source: VectorSource, name: str, dimension: int, ids: list[str], member: Path,
                   progress: Progress) -> Collection:
    found_ids: list[str] = []
    found: list[np.ndarray] = []
    metadata: list[dict[str, Any]] = []
    for start in range(0, len(ids), _BATCH):
        got_ids, got, meta = await source.rows(name, ids[start:start + _BATCH])
        found_ids += got_ids
        found.append(np.asarray(got, np.float32).reshape(len(got_ids), dimension))
        metadata += meta
        progress(f"vectors {name}", min(start + _BATCH, len(ids)), len(ids))
    matrix = np.concatenate(found) if found else np.zeros((0, dimension), np.float32)
    member.write_bytes(pack_vectors(found_ids, matrix, metadata))
    return Collection(name=name, dimension=dimension, vectors=len(found_ids), missing=len(ids) - len(found_ids))


def scheduled_path(directory: Path, now: datetime | None = None) -> Path:
    """Where the next scheduled export goes: DATA_DIR/exports/ustadh-export-<UTC time>.tar."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    return directory / f"{_PREFIX}{stamp}.tar"


def prune(directory: Path, keep: int) -> list[Path]:
    """Delete all but the newest `keep` scheduled exports; the ones deleted."""
    archives = sorted(directory.glob(f"{_PREFIX}*.tar"))
    gone = archives[:-keep] if keep > 0 else archives
    for old in gone:
        old.unlink()
    return gone
