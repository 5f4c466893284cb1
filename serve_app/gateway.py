"""The HTTP gateway deployment: /healthz, /metrics, the Telegram webhook route and the API routers.

Ray Serve's proxy gives every request an id (the incoming X-Request-ID, or a new one) and returns
it in the X-Request-ID response header; the gateway binds that same id for its log lines and
passes it on to every actor it calls.
"""
from __future__ import annotations

import asyncio
import time
from typing import Any

import redis.asyncio as aioredis
from fastapi import FastAPI, Request, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from fastapi.responses import JSONResponse
from loguru import logger
from ray import serve

from actors import registry
from actors.tracing import call
from core.config import Settings, load_settings
from core.logs import setup_logging
from core.ledger.errors import LedgerError
from core.request_id import bound
from serve_app import deps, ingestion_api, retrieval_api, tutor_api, wallet_api
from serve_app import scraping_api
from serve_app.deps import Resources
from serve_app.errors import ledger_error
from serve_app.health import HealthReport, summary
from serve_app.loopback import keep_replica_grpc_on_loopback
from serve_app.retriever import Retriever
from serve_app.tutor import Tutor
from serve_app.metrics import (COMPONENT_UP, HTTP_LATENCY, HTTP_REQUESTS, PROBE_LATENCY, gateway_metrics,
                               ray_node_metrics)

keep_replica_grpc_on_loopback()
api = FastAPI(title="Ustadh API", version="0.1.0")
api.include_router(wallet_api.router)
api.include_router(ingestion_api.router)
api.include_router(retrieval_api.router)
api.include_router(tutor_api.router)
api.include_router(scraping_api.router)
api.add_exception_handler(LedgerError, ledger_error)


class RequestContext:
    """Binds the request id for the log lines of a request, then counts, times and logs it by route.

    A plain ASGI middleware: Starlette's BaseHTTPMiddleware (what `@app.middleware` builds) runs
    each request through extra tasks and streams, measurably dearer per request on a small machine.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

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
                path = getattr(scope.get("route"), "path", "unmatched")  # the route template, set by routing
                elapsed = time.perf_counter() - started
                HTTP_REQUESTS.labels(scope["method"], path, str(status)).inc()
                HTTP_LATENCY.labels(path).observe(elapsed)
                logger.info("http {} {} -> {}", scope["method"], scope["path"], status, ms=round(elapsed * 1000, 1))


api.add_middleware(RequestContext)


class GatewayApp:
    def __init__(self, settings: Settings, retriever: Any = None, tutor: Any = None) -> None:
        setup_logging(settings, "gateway")
        self.settings = settings
        self.redis = aioredis.Redis.from_url(settings.REDIS_URL or "", socket_connect_timeout=1,
                                             socket_timeout=settings.HEALTH_TIMEOUT_S)
        self.health = HealthReport(settings, self.redis)
        deps.install(Resources(settings, retriever, tutor))
        self.retriever, self.tutor = retriever, tutor
        self.bot: Any = None
        if settings.TELEGRAM_BOT_TOKEN is not None:
            import actors.telegram_bot  # noqa: F401 - loads aiogram now, not inside the first webhook call

    @api.get("/healthz")
    async def healthz(self) -> JSONResponse:
        report = await self.health.collect()
        for name, result in report.items():
            COMPONENT_UP.labels(name).set(1 if result.up else 0)
            PROBE_LATENCY.labels(name).set(result.latency_ms)
        body = summary(report)
        for name, deployment in (("retrieval", self.retriever), ("tutor", self.tutor)):
            if deployment is not None:
                body[name] = await self._deployment_status(deployment)
        return JSONResponse(body, status_code=200 if body["status"] == "ok" else 503)

    async def _deployment_status(self, deployment: Any) -> dict[str, Any]:
        """A deployment's breaker state (embeddings for retrieval, the LLM for the tutor)."""
        try:
            return await asyncio.wait_for(deployment.status.remote(), self.settings.HEALTH_TIMEOUT_S)
        except Exception as exc:  # noqa: BLE001 - health must answer whatever the replica does
            return {"error": f"{type(exc).__name__}: {exc}"[:200]}

    @api.get("/metrics")
    async def metrics(self) -> Response:
        text = gateway_metrics().decode() + await ray_node_metrics()
        return Response(text, media_type="text/plain; version=0.0.4; charset=utf-8")

    @api.post("/telegram/webhook")
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


# Wrapped here, not decorated in place, so the class pickles by reference (see actors.registry).
Gateway = serve.deployment(ray_actor_options={"num_cpus": 0.2}, max_ongoing_requests=200)(
    serve.ingress(api)(GatewayApp))


# Serve's own access log line per request repeats what RequestContext logs (with the request id):
# off, for `serve.start` and `serve.run` alike.
SERVE_LOGGING = {"enable_access_log": False}


def application(settings: Settings) -> serve.Application:
    """The Serve application: the gateway, composed through handles with the Retriever and the Tutor
    (which itself holds the Retriever's handle)."""
    retriever = Retriever.bind(settings)
    return Gateway.bind(settings, retriever, Tutor.bind(settings, retriever))


def build_app(args: dict[str, str]) -> serve.Application:
    """Application builder for `serve run serve_app.gateway:build_app` and serve config files."""
    return application(load_settings(**args))
