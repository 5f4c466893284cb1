"""Scheduler: the system's own timetable for the jobs no request starts: the wallet's
reconciliation every RECONCILE_EVERY_MIN minutes, and an export (`core.backup.export`) every
EXPORT_EVERY_H hours (0: none) into DATA_DIR/exports, keeping the newest EXPORT_KEEP.

Both only read, as the scheduler's own database role. Reconciling reads one consistent snapshot
(`core.ledger.reconcile`), so it runs beside the shard actors; a mismatch is an ERROR log line
with the first problems, and `ustadh_reconcile_mismatches` (a gauge; `ray_ustadh_reconcile_mismatches`
on `/metrics`, as Ray names what actors export; held there between runs) holds how many the last run
found. An export reads its vectors through the VectorStore actor. Each job's last run, next run and outcome are in this
actor's health detail (`/healthz`: `actor:scheduler`). Expiring reservations stays with each wallet
shard, the one writer of those rows, on its own `core.schedules.Schedule` shown in the shard's detail.
"""
from __future__ import annotations

import asyncio
from typing import Any

from loguru import logger

from actors.clients.vectors import Vectors
from actors.held_gauge import HeldGauge
from actors.tracing import traced
from core.backup.export import export, prune, scheduled_path
from core.config import Settings
from core.db.roles import Role, role_url
from core.ledger.reconcile import reconcile_database
from core.logs import setup_logging
from core.schedules import Result, Schedule

OPTIONS = {"num_cpus": 0.05, "max_restarts": -1, "max_task_retries": 1}
_SHOWN = 5  # mismatches named in the ERROR line


class Scheduler:
    async def __init__(self, settings: Settings) -> None:
        setup_logging(settings, "scheduler")
        self.settings = settings
        self.mismatches = HeldGauge("ustadh_reconcile_mismatches",
                                    "Problems the last scheduled wallet reconciliation found (0 when sound)")
        self.schedules = [Schedule("reconcile", settings.RECONCILE_EVERY_MIN * 60, self._reconcile)]
        if settings.EXPORT_EVERY_H > 0:
            self.schedules.append(Schedule("export", settings.EXPORT_EVERY_H * 3600, self._export))
        self.tasks = [asyncio.create_task(s.forever()) for s in self.schedules]
        logger.info("scheduler started", jobs=[s.name for s in self.schedules])

    @traced
    async def ping(self) -> dict[str, Any]:
        return {"schedules": {s.name: s.status() for s in self.schedules},
                "running": sum(not t.done() for t in self.tasks)}

    async def _reconcile(self) -> Result:
        report = await reconcile_database(role_url(self.settings.DATABASE_URL or "", Role.SCHEDULER), "scheduler")
        self.mismatches.set(len(report.mismatches))
        head, *problems = report.lines()
        if not report.ok:
            logger.error("wallet reconciliation: {} mismatch(es)", len(report.mismatches),
                         first=problems[:_SHOWN])
        return Result(report.ok, problems[-1] if not report.ok else head)

    async def _export(self) -> Result:
        directory = self.settings.exports_dir
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = scheduled_path(directory)
        manifest = await export(role_url(self.settings.DATABASE_URL or "", Role.SCHEDULER), Vectors(), path)
        pruned = prune(directory, self.settings.EXPORT_KEEP)
        vectors = sum(c.vectors for c in manifest.collections)
        logger.info("export written", path=str(path), rows=sum(manifest.tables.values()), vectors=vectors,
                    pruned=[p.name for p in pruned])
        return Result(True, f"{path.name}: {sum(manifest.tables.values())} rows, {vectors} vectors")
