"""The HTTP gateway deployment: /healthz, /metrics, the Telegram webhook route and the API routers.

Every route but `POST /retrieve`, which is the retrieval application's own (`serve_app.retrieval_api`).
The request id of each request is bound for its log lines and passed on to every actor it calls
(`serve_app.request_context`).
"""
from __future__ import annotations

import asyncio
from typing import Any

import redis.asyncio as aioredis
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from ray import serve

from actors import registry
from actors.clients import retrieval as retrieval_client
from actors.tracing import call
from core.app.accounts import AccountError
from core.config import Settings, load_settings
from core.ledger.errors import LedgerError
from core.logs import setup_logging
from serve_app import (
    deps,
    ingestion_api,
    reindex_api,
    sources_api,
    stats_api,
    tutor_api,
    users_api,
    wallet_api,
)
from serve_app.body_limit import JSON_MAX_BYTES, BodyLimit
from serve_app.deps import Resources
from serve_app.errors import account_error, ledger_error
from serve_app.health import HealthOut, HealthReport, summary
from serve_app.loopback import keep_replica_grpc_on_loopback
from serve_app.metrics import (
    COMPONENT_UP,
    PROBE_LATENCY,
    MetricsOut,
    families,
    gateway_metrics,
    ray_node_metrics,
)
from serve_app.request_context import RequestContext
from serve_app.strict_json import strict
from serve_app.tutor import Tutor

keep_replica_grpc_on_loopback()
api = strict(FastAPI(title="Ustadh API", version="0.1.0"))
ROUTERS = (wallet_api.router, ingestion_api.router, tutor_api.router, sources_api.router, stats_api.router,
           reindex_api.router, users_api.router, users_api.admin_router)
for _router in ROUTERS:
    api.include_router(_router)
api.add_exception_handler(LedgerError, ledger_error)
api.add_exception_handler(AccountError, account_error)


def _body_limit(path: str) -> int:
    """Uploads may be INGEST_MAX_MB; every other route takes small JSON."""
    shared = deps.current()
    if path == ingestion_api.UPLOAD_PATH and shared is not None:
        return shared.settings.ingest_max_bytes
    return JSON_MAX_BYTES


api.add_middleware(BodyLimit, limit_for=_body_limit)
api.add_middleware(RequestContext)


class GatewayApp:
    def __init__(self, settings: Settings, tutor: Any = None, retrieval: bool = False) -> None:
        """`tutor`: the Tutor's handle; `retrieval`: report the retrieval application's Retriever
        (looked up by name) in /healthz too."""
        setup_logging(settings, "gateway")
        self.settings = settings
        self.redis = aioredis.Redis.from_url(settings.REDIS_URL or "", socket_connect_timeout=1,
                                             socket_timeout=settings.HEALTH_TIMEOUT_S)
        self.health = HealthReport(settings, self.redis)
        deps.install(Resources(settings, tutor))
        self.tutor, self.retriever = tutor, None
        self.retrieval = retrieval
        self.bot: Any = None
        if settings.TELEGRAM_BOT_TOKEN is not None:
            import aiogram  # noqa: F401 - loads aiogram now, not inside the first webhook call

    @api.get("/healthz", response_model=HealthOut, responses={503: {"model": HealthOut, "description": "degraded"}})
    async def healthz(self) -> JSONResponse:
        report = await self.health.collect()
        for name, result in report.items():
            COMPONENT_UP.labels(name).set(1 if result.up else 0)
            PROBE_LATENCY.labels(name).set(result.latency_ms / 1000)
        body = summary(report)
        if self.retrieval:
            body["retrieval"] = await self._retrieval_status()
        if self.tutor is not None:
            body["tutor"] = await self._deployment_status(self.tutor)
        return JSONResponse(body, status_code=200 if body["status"] == "ok" else 503)

    async def _retrieval_status(self) -> dict[str, Any]:
        """The retrieval application's Retriever, looked up by name once it is deployed."""
        if self.retriever is None:
            try:
                self.retriever = await asyncio.to_thread(retrieval_client.deployment_handle)
            except Exception as exc:
                return _failure(exc)
        return await self._deployment_status(self.retriever)

    async def _deployment_status(self, deployment: Any) -> dict[str, Any]:
        """A deployment's breaker state (embeddings for retrieval, the LLM for the tutor)."""
        try:
            return await asyncio.wait_for(deployment.status.remote(), self.settings.HEALTH_TIMEOUT_S)
        except Exception as exc:
            return _failure(exc)

    @api.get("/metrics", response_class=PlainTextResponse)
    async def metrics(self) -> Response:
        return Response(await self._metrics_text(), media_type="text/plain; version=0.0.4; charset=utf-8")

    @api.get("/metrics.json")
    async def metrics_json(self) -> MetricsOut:
        """The same metrics as `/metrics`, as JSON (for the admin console and scripts)."""
        return families(await self._metrics_text())

    async def _metrics_text(self) -> str:
        return gateway_metrics().decode() + await ray_node_metrics()

    @api.post("/telegram/webhook", include_in_schema=False)  # Telegram's, not a client's
    async def telegram_webhook(self, request: Request) -> JSONResponse:
        secret = self.settings.TELEGRAM_WEBHOOK_SECRET
        given = request.headers.get("x-telegram-bot-api-secret-token")
        if secret is not None and given != secret.get_secret_value():
            return JSONResponse({"error": "forbidden"}, status_code=403)
        if self.settings.TELEGRAM_BOT_TOKEN is None:
            return JSONResponse({"error": "no bot configured"}, status_code=404)
        try:
            update: Any = await request.json()
        except ValueError:
            return JSONResponse({"error": "body must be a JSON Telegram update"}, status_code=400)
        if self.bot is None:  # looked up once: a named actor's handle stays valid across its restarts
            self.bot = await asyncio.to_thread(registry.get, registry.TELEGRAM_BOT)
        call(self.bot.feed, update)
        return JSONResponse({"ok": True})


def _failure(exc: Exception) -> dict[str, Any]:
    return {"error": f"{type(exc).__name__}: {exc}"[:200]}


# Wrapped here, not decorated in place, so the class pickles by reference (see actors.registry).
Gateway = serve.deployment(ray_actor_options={"num_cpus": 0.2}, max_ongoing_requests=200)(
    serve.ingress(api)(GatewayApp))


def application(settings: Settings) -> serve.Application:
    """The gateway's Serve application: the gateway, composed through a handle with the Tutor (which
    reaches the retrieval application's Retriever by name), Tutor replicas scaled by Serve between
    TUTOR_REPLICAS_MIN and _MAX."""
    tutor = Tutor.options(autoscaling_config=settings.autoscaling("TUTOR")).bind(settings)
    return Gateway.bind(settings, tutor, retrieval=True)


def build_app(args: dict[str, str]) -> serve.Application:
    """Application builder for `serve run serve_app.gateway:build_app` and serve config files."""
    return application(load_settings(**args))
