"""JSON request bodies as the API accepts them: standard JSON only, text that is valid Unicode.

Python's `json.loads` takes `NaN`, `Infinity` and numbers too large for a float (which become
`inf`), and keeps a lone UTF-16 surrogate (`"\\ud800"`) as a str that cannot be encoded back to
UTF-8. Any of them reached our handlers and then failed where a value is serialised (the 422
echo, a cache key): a 500. `StrictJSONRoute` decodes bodies so that each of them is a JSON decode
error, which FastAPI answers as a 422 (`json_invalid`) naming what was wrong. Every APIRouter and
app of the HTTP API uses it (`router()`; `strict(app)` for an app's own routes).
"""
from __future__ import annotations

import json
import math
from collections.abc import Callable, Coroutine
from typing import Any

import regex
from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.routing import APIRoute

_SURROGATE = regex.compile(r"[\ud800-\udfff]")


class _Refused(ValueError):
    pass


def _no_constant(name: str) -> Any:
    raise _Refused(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Refused(f"the number {text[:40]} is too large")
    return value


def _valid_unicode(value: Any) -> None:
    if isinstance(value, str):
        if _SURROGATE.search(value):
            raise _Refused("text contains a lone UTF-16 surrogate (invalid Unicode)")
    elif isinstance(value, dict):
        for key, item in value.items():
            _valid_unicode(key)
            _valid_unicode(item)
    elif isinstance(value, list):
        for item in value:
            _valid_unicode(item)


def loads(body: bytes | str) -> Any:
    """`json.loads` for request bodies; `json.JSONDecodeError` for NaN, infinities and lone surrogates."""
    try:
        text = body.decode("utf-8") if isinstance(body, bytes) else body
    except UnicodeDecodeError as exc:
        raise json.JSONDecodeError(f"the body is not valid UTF-8 ({exc.reason})", "", exc.start) from None
    try:
        value = json.loads(text, parse_constant=_no_constant, parse_float=_finite)
        _valid_unicode(value)
    except _Refused as exc:
        raise json.JSONDecodeError(str(exc), text, 0) from None
    return value


class StrictJSONRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = loads(await self.body())
        return self._json


class StrictJSONRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict_handler(request: Request) -> Response:
            return await handler(StrictJSONRequest(request.scope, request.receive))

        return strict_handler


def router(**options: Any) -> APIRouter:
    """An APIRouter whose routes decode JSON strictly."""
    return APIRouter(route_class=StrictJSONRoute, **options)


def strict(app: FastAPI) -> FastAPI:
    """`app` with its own routes (those added after this call) decoding JSON strictly."""
    app.router.route_class = StrictJSONRoute
    return app
