"""The request id: born per Telegram update or HTTP request, carried across Ray calls.

A context variable holds the id of the request being served; `bound()` sets it for a block and
makes loguru stamp it on every line logged inside that block (also inside asyncio tasks started
there). Ray calls carry it explicitly as a keyword argument (see `actors.tracing`).
"""
from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from loguru import logger

_CURRENT: ContextVar[str | None] = ContextVar("request_id", default=None)
_VALID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def new_request_id() -> str:
    return uuid.uuid4().hex


def accept_request_id(candidate: str | None) -> str:
    """An incoming id (e.g. X-Request-ID) if it is safe to log and echo, else a fresh one."""
    if candidate and _VALID.match(candidate):
        return candidate
    return new_request_id()


def current_request_id() -> str | None:
    return _CURRENT.get()


@contextmanager
def bound(request_id: str | None) -> Iterator[str]:
    """Make `request_id` (or a new one) the current id for the block and its log lines."""
    rid = accept_request_id(request_id)
    token = _CURRENT.set(rid)
    try:
        with logger.contextualize(request_id=rid):
            yield rid
    finally:
        _CURRENT.reset(token)
