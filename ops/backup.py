"""`ustadh export PATH` and `ustadh restore PATH`: disaster recovery from the command line, with
progress bars (`core.backup`: what an archive holds and the checks made).

`export` works with or without a running system: with one, vectors come through its VectorStore
actor (Milvus Lite has one opener); without, the command opens the stores itself. `restore` needs
the target stopped (a running system would keep caching the empty state): it starts the embedded
servers the settings call for, opens Milvus itself, and loads the archive into them, refusing a
non-empty target, a damaged or truncated archive, or a newer schema, each with what was wrong
and nothing changed.
"""
from __future__ import annotations

import argparse
import asyncio
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import psycopg
from loguru import logger
from tqdm import tqdm

from core.app.ports import Unavailable
from core.backup.archive import Archive, ArchiveError, Manifest
from core.backup.export import export
from core.backup.restore import RestoreRefused, check_schema, restore
from core.config import Settings
from core.db.dump import DumpError
from ops.datadir import DataDirLock


class Bars:
    """One tqdm bar per stage, on stderr (the `Progress` callback of export and restore)."""

    def __init__(self, desc: str) -> None:
        self.desc, self.bars = desc, {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        bar = self.bars.get(stage)
        if bar is None:
            bar = self.bars[stage] = tqdm(total=total, desc=f"{self.desc} {stage}", unit="item", leave=True)
        bar.update(done - bar.n)

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()


def run_export(settings: Settings, args: argparse.Namespace) -> int:
    path = Path(args.path).resolve()
    if path.exists():
        logger.error(f"{path} exists: give a new file name")
        return 1
    from ops.services import resolved_settings

    bars = Bars("export")
    running = DataDirLock(settings.run_dir).held_elsewhere()
    try:
        with resolved_settings(settings) as resolved, ExitStack() as stack:
            vectors = _vectors(resolved, stack, running)
            manifest = asyncio.run(export(resolved.DATABASE_URL or "", vectors, path, bars))
    except (DumpError, OSError, psycopg.Error, Unavailable) as exc:
        logger.error(f"export failed, nothing written: {exc}")
        return 1
    finally:
        bars.close()
    print(_summary(path, manifest))
    return 0


def _vectors(settings: Settings, stack: ExitStack, running: bool) -> Any:
    """The running system's VectorStore actor, or (no system running) the store opened here."""
    if running:
        from ops.ray_local import join_running_system

        join_running_system(settings)
        from actors.clients.vectors import Vectors

        return Vectors()
    from actors.vector_store import VectorStore

    store = VectorStore(settings)
    stack.callback(store.client.close)
    return store


def _summary(path: Path, manifest: Manifest) -> str:
    vectors = sum(c.vectors for c in manifest.collections)
    missing = sum(c.missing for c in manifest.collections)
    lines = [f"exported {path}: schema {manifest.schema_version}, {sum(manifest.tables.values())} rows in "
             f"{len(manifest.tables)} tables, {vectors} vectors in {len(manifest.collections)} collection(s)"]
    if missing:
        lines.append(f"{missing} chunk(s) had no vector in Milvus: after a restore, `ustadh reindex` embeds them")
    return "\n".join(lines)


def run_restore(settings: Settings, args: argparse.Namespace) -> int:
    if DataDirLock(settings.run_dir).held_elsewhere():
        logger.error("Ustadh is running on this DATA_DIR: stop it (Ctrl-C on `ustadh up`), then restore")
        return 1
    try:
        archive = Archive(Path(args.path))  # checked whole before anything starts
    except ArchiveError as exc:
        logger.error(f"restore refused, nothing changed: {exc}")
        return 1
    try:
        check_schema(archive.manifest)
    except ArchiveError as exc:
        archive.close()
        logger.error(f"restore refused, nothing changed: {exc}")
        return 1
    from ops.services import resolved_settings

    bars = Bars("restore")
    try:
        with resolved_settings(settings) as resolved, ExitStack() as stack:
            done = asyncio.run(restore(archive, resolved.DATABASE_URL or "", _vectors(resolved, stack, False), bars))
    except (ArchiveError, RestoreRefused) as exc:
        logger.error(f"restore refused, nothing changed: {exc}")
        return 1
    except (DumpError, psycopg.Error) as exc:
        logger.error(f"restore failed, no data loaded (rows roll back, new collections are dropped): {exc}")
        return 1
    finally:
        bars.close()
        archive.close()
    print(f"restored {args.path}: {done.rows} rows, {done.vectors} vectors (schema {done.schema_version}, "
          "then migrated to this version's)")
    if done.missing:
        print(f"{done.missing} chunk(s) came without a vector: run `ustadh reindex` once the system is up")
    return 0
