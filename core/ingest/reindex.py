"""A reindex job's status: embedding every chunk the current embedding model has no vector for.

The Ingestor runs one at a time and keeps its status in memory (`actors.ingestor`); the work itself
is idempotent, so a job cut short (an actor restart, a stalled embedder) is finished by starting
another: it embeds only what is still missing.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

REINDEX_STEP = 256  # chunks embedded per step
REINDEX_STALLED_STEPS = 5  # steps in a row that embed nothing while chunks remain: the job fails


@dataclass
class Reindex:
    id: str
    state: str = "running"  # running | done | failed
    collection: str | None = None
    done: int = 0
    total: int = 0
    error: str | None = None
    started: float = field(default_factory=time.time)
    finished: float | None = None

    def finish(self, state: str, error: str | None = None) -> None:
        self.state, self.error, self.finished = state, error, time.time()

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "state": self.state, "collection": self.collection, "done": self.done,
                "total": self.total, "error": self.error, "started_at": _iso(self.started),
                "finished_at": _iso(self.finished) if self.finished else None}


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()
