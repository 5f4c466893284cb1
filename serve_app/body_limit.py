"""How large a request body the HTTP API takes, refused before it is read.

A body declared larger than its route's limit (Content-Length) is answered 413 at once, naming
the limit, without reading a byte of it; a body sent without a length (chunked) is counted as it
arrives and refused the same way once past the limit. Uploads (`POST /ingestion/jobs`) may be
INGEST_MAX_MB, every other route `JSON_MAX_BYTES`; a multipart body gets `MULTIPART_SLACK_BYTES`
more for its framing and small fields, so the limit stated is the one a file is held to.

Hand-written instead of Starlette's `RequestBodyLimitMiddleware` (which FastAPI's `max_body_size`
uses): that one answers a bare "Content Too Large" whatever the handlers say, and its limit is
fixed when the route is declared, while the upload limit is a setting the replica reads at start.
"""
from __future__ import annotations

from collections.abc import Callable

from fastapi import HTTPException
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

JSON_MAX_BYTES = 1024 * 1024
MULTIPART_SLACK_BYTES = 64 * 1024
_MB = 1024 * 1024


def describe(limit: int) -> str:
    return f"the limit is {limit / _MB:.3g} MB"


class BodyLimit:
    def __init__(self, app: ASGIApp, limit_for: Callable[[str], int]) -> None:
        """`limit_for(path)`: the most bytes a request body to `path` may have."""
        self.app, self.limit_for = app, limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        headers = Headers(scope=scope)
        allowed = limit + (MULTIPART_SLACK_BYTES if headers.get("content-type", "").startswith("multipart/") else 0)
        declared = _content_length(headers)
        if declared is not None and declared > allowed:
            message = f"the request body is {declared / _MB:.1f} MB; {describe(limit)}"
            await JSONResponse({"detail": message}, status_code=413, headers={"Connection": "close"})(
                scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > allowed:
                    raise HTTPException(413, f"the request body is over the limit: {describe(limit)}")
            return message

        await self.app(scope, counted, send)


def _content_length(headers: Headers) -> int | None:
    value = headers.get("content-length")
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None
