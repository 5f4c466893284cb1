"""The ASGI middleware every Ustadh HTTP application runs first: the request id and the access log.

Ray Serve's proxy gives every request an id (the incoming X-Request-ID, or a new one) and returns
it in the X-Request-ID response header; this binds that same id for the request's log lines (and
so for every actor call made under it), then logs the request with its status and duration by
route. The gateway also counts and times it in its Prometheus registry (`serve_app.metrics`).

A plain ASGI middleware: Starlette's BaseHTTPMiddleware (what `@app.middleware` builds) runs each
request through extra tasks and streams, measurably dearer per request on a small machine.
"""
from __future__ import annotations

import time

from loguru import logger
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.request_id import bound
from serve_app.metrics import HTTP_LATENCY, HTTP_REQUESTS


class RequestContext:
    def __init__(self, app: ASGIApp, count: bool = True) -> None:
        self.app, self.count = app, count

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        request_id = dict(scope["headers"]).get(b"x-request-id")
        with bound(request_id.decode("latin-1") if request_id else None):
            started = time.perf_counter()
            try:
                await self.app(scope, receive, send_noting_status)
            finally:
                elapsed = time.perf_counter() - started
                if self.count:
                    path = getattr(scope.get("route"), "path", "unmatched")  # the route template, set by routing
                    HTTP_REQUESTS.labels(scope["method"], path, str(status)).inc()
                    HTTP_LATENCY.labels(path).observe(elapsed)
                logger.info("http {} {} -> {}", scope["method"], scope["path"], status, ms=round(elapsed * 1000, 1))
