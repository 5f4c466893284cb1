"""The system's named actors: how `ustadh up` starts them and how everyone else finds them.

Actors live in the Ray namespace `ustadh` under fixed names; callers look them up by name, so the
bot, the Serve replicas and the CLI reach the same single owner of each piece of state. Actor
classes are plain classes turned into Ray actors here: a class decorated in place with
`@ray.remote` cannot be found by name when pickled, so cloudpickle would copy it by value along
with module globals such as loguru's open log file.
"""
from __future__ import annotations

from typing import Any

import ray

from actors import crawler, embedding_batcher, ingestor, reranker, vector_store, wallet
from core.config import Settings

NAMESPACE = "ustadh"
VECTOR_STORE = "vector_store"
TELEGRAM_BOT = "telegram_bot"
EMBEDDING_BATCHER = "embedding_batcher"
INGESTOR = "ingestor"
RERANKER = "reranker"
CRAWLER = "crawler"


def wallet_ledger(shard: int) -> str:
    """The name of wallet shard actor `shard` (0 <= shard < WALLET_SHARDS)."""
    return f"wallet_ledger_{shard}"


def _specs(settings: Settings) -> dict[str, tuple[Any, tuple[Any, ...]]]:
    """name -> (Ray actor class, constructor arguments after the settings)."""
    specs: dict[str, tuple[Any, tuple[Any, ...]]] = {
        VECTOR_STORE: (ray.remote(**vector_store.OPTIONS)(vector_store.VectorStore), ()),
        EMBEDDING_BATCHER: (ray.remote(**embedding_batcher.OPTIONS)(embedding_batcher.EmbeddingBatcher), ()),
        INGESTOR: (ray.remote(**ingestor.OPTIONS)(ingestor.Ingestor), ()),
        RERANKER: (ray.remote(**reranker.OPTIONS)(reranker.Reranker), ()),
        CRAWLER: (ray.remote(**crawler.OPTIONS)(crawler.Crawler), ())}
    ledger = ray.remote(**wallet.OPTIONS)(wallet.WalletLedger)
    specs.update({wallet_ledger(i): (ledger, (i,)) for i in range(settings.WALLET_SHARDS)})
    if settings.TELEGRAM_BOT_TOKEN is not None:
        from actors import telegram_bot  # imported here: the bot uses the wallet client, which uses this module

        specs[TELEGRAM_BOT] = (ray.remote(**telegram_bot.OPTIONS)(telegram_bot.TelegramBot), ())
    return specs


def actor_names(settings: Settings) -> list[str]:
    return list(_specs(settings))


def start_actors(settings: Settings) -> dict[str, Any]:
    """Create (or find, if already running) every system actor; returns name -> handle."""
    handles = {}
    for name, (cls, args) in _specs(settings).items():
        handles[name] = cls.options(name=name, namespace=NAMESPACE, get_if_exists=True,
                                    lifetime="detached").remote(settings, *args)
    return handles


def get(name: str) -> Any:
    return ray.get_actor(name, namespace=NAMESPACE)
