"""Carrying the request id across Ray actor calls.

Callers use `call(handle.method, ...)`, which adds the current request id as a `request_id`
keyword; actor methods decorated with `@traced` take it and bind it for their log lines, so a
request born in the bot or at the HTTP edge can be followed into every actor it touches.
"""
from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec, TypeVar

from core.request_id import bound, current_request_id

P = ParamSpec("P")
R = TypeVar("R")


def traced(method: Callable[..., Awaitable[R]]) -> Callable[..., Awaitable[R]]:
    """Run an async actor method with the caller's request id bound."""

    @functools.wraps(method)
    async def wrapper(self: Any, *args: Any, request_id: str | None = None, **kwargs: Any) -> R:
        with bound(request_id):
            return await method(self, *args, **kwargs)

    signature = inspect.signature(method)
    extra = inspect.Parameter("request_id", inspect.Parameter.KEYWORD_ONLY, default=None)
    params = list(signature.parameters.values())
    at = next((i for i, p in enumerate(params) if p.kind is inspect.Parameter.VAR_KEYWORD), len(params))
    wrapper.__signature__ = signature.replace(parameters=[*params[:at], extra, *params[at:]])  # type: ignore[attr-defined]
    del wrapper.__wrapped__  # type: ignore[attr-defined]  # Ray unwraps to read signatures
    return wrapper


def call(method: Any, *args: Any, **kwargs: Any) -> Any:
    """`method.remote(*args, **kwargs)` with the current request id attached."""
    return method.remote(*args, request_id=current_request_id(), **kwargs)
