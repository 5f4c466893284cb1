"""The system's named actors: their names, and how everyone finds them.

Actors live in the Ray namespace `ustadh` under fixed names; callers look them up by name, so the
bot, the Serve replicas and the CLI reach the same single owner of each piece of state. Only names
live here (no actor class is imported), so any package may find an actor without importing its
code; `ops.system_actors` says which class runs under each name and starts them.
"""
from __future__ import annotations

from typing import Any

import ray

from core.config import Settings

NAMESPACE = "ustadh"
VECTOR_STORE = "vector_store"
TELEGRAM_BOT = "telegram_bot"
EMBEDDING_BATCHER = "embedding_batcher"
INGESTOR = "ingestor"
RERANKER = "reranker"
CRAWLER = "crawler"
SCHEDULER = "scheduler"


def wallet_ledger(shard: int) -> str:
    """The name of wallet shard actor `shard` (0 <= shard < WALLET_SHARDS)."""
    return f"wallet_ledger_{shard}"


def actor_names(settings: Settings) -> list[str]:
    """Every system actor's name with these settings (`ops.system_actors` starts them)."""
    names = [VECTOR_STORE, EMBEDDING_BATCHER, INGESTOR, RERANKER, CRAWLER, SCHEDULER]
    names += [wallet_ledger(i) for i in range(settings.WALLET_SHARDS)]
    return names + ([TELEGRAM_BOT] if settings.TELEGRAM_BOT_TOKEN is not None else [])


def get(name: str) -> Any:
    return ray.get_actor(name, namespace=NAMESPACE)
