"""Vectors: the client of the VectorStore actor (the one opener of Milvus) for jobs that read or
load whole collections: exports (`core.backup.export.VectorSource`) from the Scheduler and the CLI."""
from __future__ import annotations

from typing import Any

import numpy as np

from actors import registry
from actors.clients.base import ActorClient
from core.app.ports import Unavailable


class VectorStoreUnavailable(Unavailable):
    """The VectorStore actor is not running (or restarting)."""


class Vectors(ActorClient):
    actor_name = registry.VECTOR_STORE
    unavailable = VectorStoreUnavailable

    async def rows(self, name: str, ids: list[str]) -> tuple[list[str], np.ndarray, list[dict[str, Any]]]:
        return await self._call("rows", name, ids)
