"""The retrieval Serve application: `POST /retrieve {query, lang?, k?}` → ranked chunks with citations.

Its own application (route prefix /retrieve), with the Retriever deployment as its ingress: the
proxy hands a request straight to a Retriever replica, which authenticates the caller and runs
the pipeline in place, one Ray hop where a route on the gateway would take two (proxy → gateway
→ Retriever). The Tutor, the bot and evaluation reach the same deployment through a handle
(`actors.clients.retrieval`). Its requests are logged with their request id here; their counts
and latencies are Ray Serve's own HTTP metrics (`ray_serve_num_http_requests_total` and
`ray_serve_http_request_latency_ms` with route "/retrieve"), which the gateway's /metrics includes.

The caller's token decides the tier (retrieval depth and reranking): `k` defaults to the tier's
depth. Bad input — an empty query, one over 2,000 characters, only emoji or control characters,
`k` outside 1-50, an unknown `lang` — answers 422 with the reason.
"""
from __future__ import annotations

from typing import Any

from fastapi import FastAPI, HTTPException
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from ray import serve

from core.config import Settings, load_settings
from core.ledger.tiers import tier as tier_named
from core.request_id import current_request_id
from core.retrieval.pipeline import Hit
from core.retrieval.query import QueryError
from serve_app import deps
from serve_app.body_limit import JSON_MAX_BYTES, BodyLimit
from serve_app.deps import Caller, Res, Resources
from serve_app.request_context import RequestContext
from serve_app.retriever import RetrieverApp
from serve_app.strict_json import strict

ROUTE_PREFIX = "/retrieve"
api = strict(FastAPI(title="Ustadh retrieval API", version="0.1.0"))
api.add_middleware(BodyLimit, limit_for=lambda _: JSON_MAX_BYTES)
api.add_middleware(RequestContext, count=False)


def _published_openapi() -> dict[str, Any]:
    """The OpenAPI document with the paths clients call (`/retrieve`): inside the application, Serve
    has stripped the prefix, so FastAPI alone would publish the route as ""."""
    if api.openapi_schema is None:
        schema = get_openapi(title=api.title, version=api.version, routes=api.routes)
        schema["paths"] = {ROUTE_PREFIX + path: item for path, item in schema["paths"].items()}
        api.openapi_schema = schema
    return api.openapi_schema


api.openapi = _published_openapi  # type: ignore[method-assign]


class RetrieveRequest(BaseModel):
    query: Any = None
    lang: Any = None
    k: Any = None


class RetrieveOut(BaseModel):
    hits: list[Hit]  # the pipeline's own dataclass: its fields are the schema
    tier: str


# The response is documented by RetrieveOut and sent as the plain JSON it already is: no validation walk.
@api.post("", response_model=RetrieveOut)  # the application's prefix itself: POST /retrieve
async def retrieve(body: RetrieveRequest, caller: Caller,
                   res: Res) -> JSONResponse:
    k = tier_named(caller.tier).retrieval_k if body.k is None else body.k
    try:
        hits = await res.retriever.retrieve(body.query, k, body.lang, caller.tier, None, current_request_id())
    except QueryError as exc:
        raise HTTPException(422, str(exc)) from None
    return JSONResponse({"hits": hits, "tier": caller.tier})  # plain JSON already: no jsonable_encoder walk


class RetrievalService(RetrieverApp):
    """A Retriever replica that also answers `POST /retrieve` (a module-level route: Serve's class-based
    routes cannot sit at the application's prefix itself), in place."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        deps.install(Resources(settings, retriever=self))


# Wrapped here, not decorated in place, so the class pickles by reference (see actors.registry).
Retriever = serve.deployment(name="RetrieverApp", ray_actor_options={"num_cpus": 0.2}, max_ongoing_requests=64)(
    serve.ingress(api)(RetrievalService))


def application(settings: Settings) -> serve.Application:
    """The retrieval application, its replicas scaled by Serve between RETRIEVER_REPLICAS_MIN and _MAX."""
    return Retriever.options(autoscaling_config=settings.autoscaling("RETRIEVER")).bind(settings)


def build_app(args: dict[str, str]) -> serve.Application:
    """Application builder for `serve run serve_app.retrieval_api:build_app` and serve config files."""
    return application(load_settings(**args))
