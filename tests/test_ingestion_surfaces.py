"""Ingestion as admins reach it: a file sent to the bot, /ingest, /jobs, and the HTTP routes, over
the loopback Bot API, the Serve gateway and the real Ingestor actor."""
from __future__ import annotations

import itertools
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest_asyncio

from bot.texts import CATALOG
from tests.conftest import RaySystem
from tests.corpus_texts import ARABIC, FRENCH, long_document
from tests.fakes.telegram import FakeTelegram
from tests.telegram_chat import ADMIN, Chat, admin_and_learner_tokens, bearer, tg  # noqa: F401 - tg is a fixture

_ids = itertools.count(760_001)


@pytest_asyncio.fixture
async def admin_in(tg: FakeTelegram, pool: Any) -> AsyncIterator[Callable[[str], Awaitable[Chat]]]:
    """The admin's chat in a language; the admin is English again afterwards (other tests expect it)."""
    async def chat(language: str) -> Chat:
        admin = Chat(tg, ADMIN, language)
        await admin.say(f"/language {language}")
        return admin

    yield chat
    async with pool.connection() as conn:
        await conn.execute("UPDATE users SET language = 'en' WHERE telegram_id = %s", (ADMIN,))


async def test_admin_sends_a_file_and_hears_how_it_ended(admin_in: Any) -> None:
    admin = await admin_in("fr")
    text = f"# Réviser efficacement\n\n{FRENCH}\n\n## La lecture\n\n{long_document('fr', 3)}"
    queued = await admin.send_file("reviser.md", text.encode(), "text/markdown")
    assert "Importation en file" in queued and "reviser.md" in queued
    outcome = await admin.reply(timeout=240)
    assert outcome.startswith("✅") and "indexé" in outcome and "Réviser efficacement" in outcome
    jobs = await admin.say("/jobs")
    assert CATALOG["jobs_header"]["fr"] in jobs and "Réviser efficacement" in jobs


async def test_names_with_markup_characters_read_as_typed_in_every_status_message(admin_in: Any,
                                                                                   tg: FakeTelegram) -> None:
    admin = await admin_in("en")
    name = "Q&A <1> > 0"
    content = f"{name}\n\n{long_document('en', 4)}\n\n{uuid.uuid4().hex}".encode()
    statuses = [await admin.send_file(f"{name}.txt", content), await admin.reply(timeout=240)]
    statuses += [await admin.send_file("Tom & Jerry <draft>.txt", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8),
                 await admin.reply(timeout=120), await admin.say("/jobs")]
    for status in statuses[:2]:  # queued, then indexed (or a near-duplicate, also by name)
        assert name in status and "&amp;" not in status and "&lt;" not in status, status
    assert "Tom & Jerry <draft>.txt" in statuses[2], statuses[2]
    assert statuses[3].startswith("❌") and "Tom & Jerry <draft>" in statuses[3], statuses[3]
    assert name in statuses[4] and "Tom & Jerry <draft>" in statuses[4], statuses[4]
    sent = [c for c in tg.calls("sendMessage") if c.params["chat_id"] == str(ADMIN)][-len(statuses):]
    assert {c.params.get("parse_mode") for c in sent} == {"HTML"}  # the bot's one default


async def test_bad_file_is_explained_in_the_admins_language(admin_in: Any) -> None:
    admin = await admin_in("ar")
    await admin.send_file("صورة.txt", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8)
    outcome = await admin.reply(timeout=120)
    assert outcome.startswith("❌") and CATALOG["reason_binary"]["ar"] in outcome


async def test_learners_cannot_ingest(tg: FakeTelegram) -> None:
    learner = Chat(tg, next(_ids))
    assert await learner.send_file("notes.txt", ARABIC.encode()) == CATALOG["ingest_admin_only"]["en"]
    assert await learner.say("/jobs") == CATALOG["admin_only"]["en"]
    assert await learner.say("/ingest https://example.org") == CATALOG["admin_only"]["en"]


async def test_ingest_command_needs_a_url(admin_in: Any) -> None:
    admin = await admin_in("fr")
    assert await admin.say("/ingest") == CATALOG["ingest_reply_usage"]["fr"]
    assert await admin.say("/ingest not a url") == CATALOG["ingest_usage"]["fr"]


async def test_http_routes_queue_and_report_jobs(tg: FakeTelegram, ray_system: RaySystem, pool: Any) -> None:
    admin_token, learner_token = await admin_and_learner_tokens(tg, next(_ids))
    html = f"<html><head><title>Le cours</title></head><body><p>{FRENCH}</p><p>{ARABIC}</p></body></html>"
    async with httpx.AsyncClient(base_url=ray_system.base_url, timeout=60) as http:
        files = {"file": ("cours.html", html.encode(), "text/html")}
        assert (await http.post("/ingestion/jobs", files=files)).status_code == 401
        assert (await http.post("/ingestion/jobs", files=files, headers=bearer(learner_token))).status_code == 403
        neither = await http.post("/ingestion/jobs", data={"visibility": "public"}, headers=bearer(admin_token))
        assert neither.status_code == 422
        created = await http.post("/ingestion/jobs", files=files, data={"uri": f"http-test:{uuid.uuid4().hex}"},
                                  headers=bearer(admin_token))
        assert created.status_code == 202, created.text
        job_id = created.json()["id"]
        job = created.json()
        while job["state"] not in ("indexed", "failed"):
            job = (await http.get(f"/ingestion/jobs/{job_id}", headers=bearer(admin_token))).json()
        assert job["state"] == "indexed" and job["title"] == "Le cours", job
        listed = (await http.get("/ingestion/jobs", headers=bearer(admin_token))).json()["jobs"]
        assert job_id in [j["id"] for j in listed]
        assert (await http.get(f"/ingestion/jobs/{uuid.uuid4()}", headers=bearer(admin_token))).status_code == 404
        assert (await http.get("/ingestion/jobs/not-a-uuid", headers=bearer(admin_token))).status_code == 422
        big = {"file": ("big.txt", b"x" * (ray_system.settings.ingest_max_bytes + 10), "text/plain")}
        refused = await http.post("/ingestion/jobs", files=big, headers=bearer(admin_token))
        assert refused.status_code == 413 and refused.json()["error_code"] == "too_large"
