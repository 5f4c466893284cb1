"""The health report behind /healthz: stores and actors probed concurrently under one deadline."""
from __future__ import annotations

import asyncio
from typing import Any

import redis.asyncio as aioredis
from pydantic import BaseModel, Field

from actors import registry
from actors.tracing import call
from core.config import Settings
from core.db.roles import Role, role_url
from core.health import Probe, local_model_alive, postgres_alive, probe, redis_alive


class HealthReport:
    """Probes PostgreSQL, Redis, every system actor (the vector store reports Milvus) and the local
    model server when `ustadh up` runs one."""

    def __init__(self, settings: Settings, redis_client: aioredis.Redis) -> None:
        self.settings = settings
        self.redis = redis_client
        self.timeout = settings.HEALTH_TIMEOUT_S

    async def collect(self) -> dict[str, Probe]:
        names = registry.actor_names(self.settings)
        checks = [
            probe(postgres_alive(role_url(self.settings.DATABASE_URL or "", Role.GATEWAY), self.timeout), self.timeout),
            probe(redis_alive(self.redis), self.timeout),
            *(probe(self._ping_actor(name), self.timeout) for name in names),
        ]
        results = await asyncio.gather(*checks)
        report = {"postgres": results[0], "redis": results[1]}
        report.update({f"actor:{name}": result for name, result in zip(names, results[2:])})
        report["milvus"] = self._milvus(report[f"actor:{registry.VECTOR_STORE}"])
        if self.settings.llm_local and self.settings.LOCAL_LLM_URL:
            report["local_model"] = await probe(local_model_alive(self.settings.LOCAL_LLM_URL, self.timeout),
                                                self.timeout)
        return report

    async def _ping_actor(self, name: str) -> dict[str, Any]:
        handle = await asyncio.to_thread(registry.get, name)
        return await call(handle.ping)

    @staticmethod
    def _milvus(store: Probe) -> Probe:
        if store.up and store.detail and store.detail.get("milvus") == "up":
            return Probe("up", store.detail.get("milvus_ms", store.latency_ms))
        return Probe("down", store.latency_ms, store.error or "vector store did not answer")


class ComponentOut(BaseModel):
    status: str = Field(description="up or down")
    latency_ms: float
    error: str | None = None
    detail: dict[str, Any] | None = None


class HealthOut(BaseModel):
    """`/healthz`: 200 when every component is up, 503 (same body) when one is not."""

    status: str = Field(description="ok or degraded")
    components: dict[str, ComponentOut]
    retrieval: dict[str, Any] | None = Field(None, description="the Retriever's breaker and index state")
    tutor: dict[str, Any] | None = Field(None, description="the Tutor's LLM, breaker and local model state")


def summary(report: dict[str, Probe]) -> dict[str, Any]:
    return {"status": "ok" if all(p.up for p in report.values()) else "degraded",
            "components": {name: p.as_dict() for name, p in report.items()}}
