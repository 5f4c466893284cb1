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

from actors import telegram_bot, vector_store
from core.config import Settings

NAMESPACE = "ustadh"
VECTOR_STORE = "vector_store"
TELEGRAM_BOT = "telegram_bot"


def _specs(settings: Settings) -> dict[str, Any]:
    specs: dict[str, Any] = {VECTOR_STORE: ray.remote(**vector_store.OPTIONS)(vector_store.VectorStore)}
    if settings.TELEGRAM_BOT_TOKEN is not None:
        specs[TELEGRAM_BOT] = ray.remote(**telegram_bot.OPTIONS)(telegram_bot.TelegramBot)
    return specs


def actor_names(settings: Settings) -> list[str]:
    return list(_specs(settings))


def start_actors(settings: Settings) -> dict[str, Any]:
    """Create (or find, if already running) every system actor; returns name -> handle."""
    handles = {}
    for name, cls in _specs(settings).items():
        handles[name] = cls.options(name=name, namespace=NAMESPACE, get_if_exists=True, lifetime="detached").remote(settings)
    return handles


def get(name: str) -> Any:
    return ray.get_actor(name, namespace=NAMESPACE)
