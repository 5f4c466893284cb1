"""The Serve gateway on a real Ray cluster: health, metrics, request ids into actors, the webhook."""
from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from typing import Any

import httpx
import ray
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from ray import serve

from actors import registry
from bot.actor import OPTIONS as BOT_OPTIONS
from bot.actor import TelegramBot
from bot.commands import ADMIN, LEARNER
from bot.texts import CATALOG
from core.config import Settings
from ops.embedded import EmbeddedRedis
from serve_app.gateway import Gateway
from tests.conftest import RaySystem
from tests.fakes.telegram import FakeTelegram


def log_lines(settings: Settings) -> list[dict[str, Any]]:
    return [json.loads(line) for line in settings.log_file.read_text(encoding="utf-8").splitlines() if line]


async def wait_for_log(settings: Settings, predicate: Any, timeout: float = 10) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [line for line in log_lines(settings) if predicate(line)]
        if found:
            return found[0]
        await asyncio.sleep(0.1)
    raise AssertionError("no matching log line")


async def test_healthz_reports_every_component(ray_system: RaySystem) -> None:
    async with httpx.AsyncClient(base_url=ray_system.base_url) as client:
        response = await client.get("/healthz")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ok"
    components = body["components"]
    for name in ("postgres", "redis", "milvus", f"actor:{registry.VECTOR_STORE}"):
        assert components[name]["status"] == "up", (name, components)


async def test_request_id_reaches_the_actor_and_comes_back(ray_system: RaySystem) -> None:
    rid = f"test-{os.urandom(6).hex()}"
    async with httpx.AsyncClient(base_url=ray_system.base_url) as client:
        response = await client.get("/healthz", headers={"X-Request-ID": rid})
    assert response.headers["x-request-id"] == rid
    actor_line = await wait_for_log(ray_system.settings,
                                    lambda e: e["request_id"] == rid and e["component"] == "vector_store")
    assert actor_line["msg"] == "ping" and actor_line["pid"] != os.getpid()
    await wait_for_log(ray_system.settings, lambda e: e["request_id"] == rid and e["component"] == "gateway")


async def test_request_without_id_gets_a_fresh_one(ray_system: RaySystem) -> None:
    async with httpx.AsyncClient(base_url=ray_system.base_url) as client:
        first = await client.get("/healthz")
        second = await client.get("/healthz")
    ids = {first.headers["x-request-id"], second.headers["x-request-id"]}
    assert len(ids) == 2 and all(ids)
    await wait_for_log(ray_system.settings, lambda e: e["request_id"] == first.headers["x-request-id"]
                       and e["component"] == "vector_store")


async def test_metrics_are_prometheus_text(ray_system: RaySystem) -> None:
    async with httpx.AsyncClient(base_url=ray_system.base_url) as client:
        await client.get("/healthz")
        response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(response.text)}
    requests = families["ustadh_http_requests"]
    assert any(s.labels.get("route") == "/healthz" and s.value >= 1 for s in requests.samples)
    up = {s.labels["component"]: s.value for s in families["ustadh_component_up"].samples}
    assert up["postgres"] == 1 and up["redis"] == 1 and up["milvus"] == 1


async def test_metrics_json_carries_the_same_families_as_the_text(ray_system: RaySystem) -> None:
    async with httpx.AsyncClient(base_url=ray_system.base_url) as client:
        await client.get("/healthz")
        text = (await client.get("/metrics")).text
        response = await client.get("/metrics.json")
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/json")
    shown = {f["name"]: f for f in response.json()["families"]}
    assert set(shown) >= {f.name for f in text_string_to_metric_families(text) if f.name.startswith("ustadh_")}
    up = {s["labels"]["component"]: s["value"] for s in shown["ustadh_component_up"]["samples"]}
    assert up["postgres"] == 1 and shown["ustadh_component_up"]["type"] == "gauge"
    buckets = [s for s in shown["ustadh_http_request_seconds"]["samples"] if s["labels"].get("le") == "+Inf"]
    assert buckets and all(isinstance(s["value"], float) for s in buckets)  # the +Inf bucket's count, a number


async def test_healthz_reports_stopped_and_hung_redis_within_two_seconds(ray_system: RaySystem) -> None:
    own_redis = EmbeddedRedis(ray_system.settings.DATA_DIR / "probe-redis")
    url = own_redis.start()
    probe_settings = ray_system.settings.model_copy(update={"REDIS_URL": url})
    await asyncio.to_thread(serve.run, Gateway.bind(probe_settings), name="probe", route_prefix="/probe")
    try:
        async with httpx.AsyncClient(base_url=ray_system.base_url, timeout=10) as client:
            assert (await client.get("/probe/healthz")).status_code == 200
            assert own_redis.proc is not None
            os.kill(own_redis.proc.pid, signal.SIGSTOP)  # hung: accepts connections, never answers
            await assert_redis_down(client)
            os.kill(own_redis.proc.pid, signal.SIGCONT)
            assert (await client.get("/probe/healthz")).status_code == 200
            own_redis.stop()  # stopped: connection refused
            await assert_redis_down(client)
    finally:
        own_redis.stop()
        await asyncio.to_thread(serve.delete, "probe")


async def assert_redis_down(client: httpx.AsyncClient) -> None:
    started = time.monotonic()
    response = await client.get("/probe/healthz")
    elapsed = time.monotonic() - started
    body = response.json()
    assert response.status_code == 503 and body["status"] == "degraded"
    assert body["components"]["redis"]["status"] == "down"
    assert body["components"]["postgres"]["status"] == "up"
    assert elapsed < 2.0, elapsed


async def test_webhook_route_needs_a_bot_and_json(ray_system: RaySystem) -> None:
    async with httpx.AsyncClient(base_url=ray_system.base_url) as client:
        assert (await client.post("/telegram/webhook", json={"update_id": 1})).status_code == 404


def bot_settings(base: Settings, tg: FakeTelegram, **extra: Any) -> Settings:
    return base.model_copy(update={"TELEGRAM_BOT_TOKEN": SecretStr(tg.token), "TELEGRAM_API_BASE": tg.base_url,
                                   **extra})


async def test_bot_actor_long_polls_and_answers(ray_system: RaySystem) -> None:
    async with FakeTelegram() as tg:
        settings = bot_settings(ray_system.settings, tg, ADMIN_TELEGRAM_IDS=(810_099,))
        actor = ray.remote(**BOT_OPTIONS)(TelegramBot).remote(settings)
        try:
            assert await actor.start.remote() == "polling"
            assert tg.calls("deleteWebhook")
            menus = {(c.params["language_code"], "scope" in c.params):
                     [m["command"] for m in c.params["commands"]] for c in tg.calls("setMyCommands")}
            assert len(menus) == 6  # learners' and the admin's, in three languages, from the command table
            assert menus[("fr", False)] == [c.name for c in LEARNER]
            assert menus[("ar", True)] == [c.name for c in LEARNER + ADMIN]
            assert tg.calls("setMyCommands")[-1].params["scope"] == {"type": "chat", "chat_id": 810_099}
            tg.message_update(chat_id=810001, user_id=810001, text="/start", language_code="fr", first_name="Luc")
            call = await tg.wait_for("sendMessage", timeout=20)
            assert call.shown == CATALOG["start"]["fr"].format(name="Luc")
            assert (await actor.ping.remote())["polling"] is True
        finally:
            await actor.stop.remote()
            ray.kill(actor)


async def test_webhook_update_flows_through_the_gateway_to_the_bot(ray_system: RaySystem) -> None:
    async with FakeTelegram() as tg:
        settings = bot_settings(ray_system.settings, tg, TELEGRAM_WEBHOOK_URL="https://bot.example/telegram/webhook",
                                TELEGRAM_WEBHOOK_SECRET=SecretStr("s3cret-token"))
        actor = ray.remote(**BOT_OPTIONS)(TelegramBot).options(
            name=registry.TELEGRAM_BOT, namespace=registry.NAMESPACE).remote(settings)
        await asyncio.to_thread(serve.run, Gateway.bind(settings), name="hook", route_prefix="/hook")
        try:
            assert await actor.start.remote() == "webhook"
            hook = tg.last("setWebhook")
            assert hook.params["url"] == "https://bot.example/telegram/webhook"
            assert hook.params["secret_token"] == "s3cret-token"
            update = tg.message_update(chat_id=820001, user_id=820001, text="/start", language_code="ar",
                                       first_name="مريم")
            async with httpx.AsyncClient(base_url=ray_system.base_url) as client:
                forbidden = await client.post("/hook/telegram/webhook", json=update)
                garbage = await client.post("/hook/telegram/webhook", content=b"\xff\x00not json",
                                            headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret-token"})
                accepted = await client.post("/hook/telegram/webhook", json=update,
                                             headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret-token"})
            assert forbidden.status_code == 403 and garbage.status_code == 400 and accepted.status_code == 200
            call = await tg.wait_for("sendMessage", timeout=20)
            assert call.shown == CATALOG["start"]["ar"].format(name="مريم")
            assert not tg.calls("getUpdates")
            rid = accepted.headers["x-request-id"]
            await wait_for_log(ray_system.settings, lambda e: e["request_id"] == rid
                               and e["component"] == "telegram_bot" and e["msg"] == "update handled")
        finally:
            await actor.stop.remote()
            ray.kill(actor)
            await asyncio.to_thread(serve.delete, "hook")
