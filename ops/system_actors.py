"""Which class runs each system actor (`actors.registry` names them), and starting them all.

Actor classes are plain classes turned into Ray actors here: a class decorated in place with
`@ray.remote` cannot be found by name when pickled, so cloudpickle would copy it by value along
with module globals such as loguru's open log file. The Telegram bot's actor (`bot.actor`) runs
only with a bot token.
"""
from __future__ import annotations

from typing import Any

import ray

from actors import crawler, embedding_batcher, ingestor, registry, reranker, scheduler, vector_store, wallet
from core.config import Settings


def _specs(settings: Settings) -> dict[str, tuple[Any, tuple[Any, ...]]]:
    """name -> (Ray actor class, constructor arguments after the settings)."""
    specs: dict[str, tuple[Any, tuple[Any, ...]]] = {
        registry.VECTOR_STORE: (ray.remote(**vector_store.OPTIONS)(vector_store.VectorStore), ()),
        registry.EMBEDDING_BATCHER: (ray.remote(**embedding_batcher.OPTIONS)(embedding_batcher.EmbeddingBatcher), ()),
        registry.INGESTOR: (ray.remote(**ingestor.OPTIONS)(ingestor.Ingestor), ()),
        registry.RERANKER: (ray.remote(**reranker.OPTIONS)(reranker.Reranker), ()),
        registry.CRAWLER: (ray.remote(**crawler.OPTIONS)(crawler.Crawler), ()),
        registry.SCHEDULER: (ray.remote(**scheduler.OPTIONS)(scheduler.Scheduler), ())}
    ledger = ray.remote(**wallet.OPTIONS)(wallet.WalletLedger)
    specs.update({registry.wallet_ledger(i): (ledger, (i,)) for i in range(settings.WALLET_SHARDS)})
    if settings.TELEGRAM_BOT_TOKEN is not None:
        from bot import actor  # only with a token: it loads aiogram

        specs[registry.TELEGRAM_BOT] = (ray.remote(**actor.OPTIONS)(actor.TelegramBot), ())
    return specs


def start_actors(settings: Settings) -> dict[str, Any]:
    """Create (or find, if already running) every system actor; returns name -> handle. On a cluster
    they are spread over the nodes (ACTOR_PLACEMENT=spread: wallet shards on different nodes, the
    others beside them) or packed onto the fewest (pack: Ray's default, filling a node first); an
    actor whose node dies is restarted by Ray on a node that lives."""
    specs = _specs(settings)
    assert list(specs) == registry.actor_names(settings), "actors.registry names what runs here"
    strategy = "SPREAD" if settings.ACTOR_PLACEMENT == "spread" else "DEFAULT"
    return {name: cls.options(name=name, namespace=registry.NAMESPACE, get_if_exists=True, lifetime="detached",
                              scheduling_strategy=strategy).remote(settings, *args)
            for name, (cls, args) in specs.items()}
