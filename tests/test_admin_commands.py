"""The admin commands of the bot (/users, /role, /stats, /ingest in reply to a file, /reindex) and
their refusal to everyone else, over the loopback Bot API and the real actors."""
from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from typing import Any

import httpx
import pytest

from bot.commands import ADMIN as ADMIN_COMMANDS
from bot.routers.admin import stats_caption
from bot.routers.reindex import embedding_model
from bot.texts import CATALOG, Translator
from core.tutor import records
from tests.conftest import RaySystem
from tests.corpus_texts import ENGLISH_2, FRENCH_2
from tests.fakes.telegram import FakeTelegram, UploadedFile
from tests.telegram_chat import ADMIN, Chat, bearer, issue_token, tg  # noqa: F401 - tg is a fixture

_ids = itertools.count(790_001)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


async def _user_row(pool: Any, telegram_id: int) -> dict[str, Any]:
    async with pool.connection() as conn:
        return await (await conn.execute("SELECT id, role, tier FROM users WHERE telegram_id = %s",
                                         (telegram_id,))).fetchone()


_ARGUMENTS = {"role": " 1 admin", "ingest": " https://example.org/x", "topup": " 1 5", "tier": " 1 premium",
              "token": " 1", "source_add": " x http://x.org", "sync": " x", "source_pause": " x", "source_resume": " x"}


@pytest.mark.parametrize("command", [f"/{c.name}{_ARGUMENTS.get(c.name, '')}" for c in ADMIN_COMMANDS])  # the whole table
async def test_every_admin_command_is_refused_to_a_learner(tg: FakeTelegram, pool: Any, command: str) -> None:
    learner = Chat(tg, next(_ids), "fr")
    await learner.say("/start")
    assert await learner.say(command.replace(" 1 ", f" {learner.user_id} ")) == CATALOG["admin_only"]["fr"]
    assert tg.calls("sendPhoto") == []
    assert (await _user_row(pool, learner.user_id))["role"] == "learner"


async def test_users_lists_the_latest_users_with_the_count(tg: FakeTelegram, pool: Any) -> None:
    learner_id, admin = next(_ids), Chat(tg, ADMIN)
    tg.message_update(chat_id=learner_id, user_id=learner_id, text="/start", first_name="Zaynab")
    await tg.wait_for("sendMessage", lambda c: c.params["chat_id"] == str(learner_id))
    reply = await admin.say("/users")
    row = await _user_row(pool, learner_id)
    async with pool.connection() as conn:
        total = (await (await conn.execute("SELECT count(*) AS n FROM users")).fetchone())["n"]
    lines = reply.split("\n")
    assert lines[0] == CATALOG["users_header"]["en"].format(count=total)
    assert CATALOG["user_line"]["en"].format(id=row["id"], name="Zaynab", role="learner", tier="free") in lines
    assert 2 <= len(lines) <= 31


async def test_role_changes_the_role_and_rejects_a_bad_one(tg: FakeTelegram, pool: Any) -> None:
    learner, admin = Chat(tg, next(_ids)), Chat(tg, ADMIN)
    await learner.say("/start")
    reference = str(learner.user_id)
    assert await admin.say(f"/role {reference} teacher") == CATALOG["role_done"]["en"].format(user=reference,
                                                                                            role="teacher")
    row = await _user_row(pool, learner.user_id)
    assert row["role"] == "teacher"
    assert await admin.say(f"/role {reference} king") == CATALOG["role_usage"]["en"]
    assert await admin.say(f"/role {reference}") == CATALOG["role_usage"]["en"]
    assert await admin.say("/role 123456789012 admin") == CATALOG["user_not_found"]["en"].format(user="123456789012")
    assert (await _user_row(pool, learner.user_id))["role"] == "teacher"
    by_id = f"#{row['id']}"
    assert await admin.say(f"/role {by_id} LEARNER") == CATALOG["role_done"]["en"].format(user=by_id, role="learner")
    assert (await _user_row(pool, learner.user_id))["role"] == "learner"


async def test_stats_sends_a_png_chart_with_todays_figures(tg: FakeTelegram, pool: Any) -> None:
    admin = Chat(tg, ADMIN)
    await admin.say("/start")
    admin_row = await _user_row(pool, ADMIN)
    await records.record(pool, records.Outcome(admin_row["id"], f"test:{uuid.uuid4().hex}", "answer", "answered",
                                               language="en", mode="llm", cost=1_500_000, latency_ms=1234))
    tg.message_update(chat_id=ADMIN, user_id=ADMIN, text="/stats")
    call = await tg.wait_for("sendPhoto", lambda c: c.params["chat_id"] == str(ADMIN), timeout=30)
    photo = call.params["photo"]
    assert isinstance(photo, UploadedFile) and photo.content.startswith(PNG_SIGNATURE) and photo.size > 1000
    expected = stats_caption(await records.stats(pool, days=7), Translator("en"))
    assert call.params["caption"] == expected
    assert " ms" in expected and "Questions today: 0" not in expected


async def test_http_stats_show_what_the_bots_stats_shows(tg: FakeTelegram, ray_system: RaySystem, pool: Any) -> None:
    admin, learner = Chat(tg, ADMIN), Chat(tg, next(_ids))
    await learner.say("/start")
    admin_token, learner_token = await issue_token(admin, ADMIN), await issue_token(admin, learner.user_id)
    async with httpx.AsyncClient(base_url=ray_system.base_url, timeout=60) as http:
        shown = (await http.get("/admin/stats", headers=bearer(admin_token))).json()
        chart = await http.get("/admin/stats.png", params={"days": 3}, headers=bearer(admin_token))
        too_long = await http.get("/admin/stats", params={"days": 91}, headers=bearer(admin_token))
        refused = [(await http.get(path, headers=bearer(learner_token))).status_code
                   for path in ("/admin/stats", "/admin/stats.png")]
    expected = await records.stats(pool, days=7)
    assert shown["users"] == expected.users and len(shown["days"]) == 7
    assert shown["days"][-1] == expected.days[-1].__dict__  # today's figures, as the bot's caption has them
    assert chart.headers["content-type"] == "image/png" and chart.content.startswith(PNG_SIGNATURE)
    assert too_long.status_code == 422 and refused == [403, 403]


async def test_ingest_in_reply_to_a_file_queues_it(tg: FakeTelegram, pool: Any) -> None:
    group, learner_id = -1_000_000_000_000 - next(_ids), next(_ids)
    in_group = lambda c: c.params["chat_id"] == str(group)  # noqa: E731
    name = f"notes-{uuid.uuid4().hex[:8]}.md"
    posted = tg.document_message_update(chat_id=group, user_id=learner_id, file_name=name,
                                        content=f"# Water and reading\n\n{ENGLISH_2}\n\n{FRENCH_2}".encode(),
                                        mime_type="text/markdown", chat_type="supergroup")
    assert (await tg.wait_for("sendMessage", in_group)).shown == CATALOG["ingest_admin_only"]["en"]

    tg.message_update(chat_id=group, user_id=ADMIN, text="/ingest", chat_type="supergroup",
                      reply_to_message=posted["message"])
    queued = (await tg.wait_for("sendMessage", in_group, count=2, timeout=60)).shown
    assert queued.startswith(CATALOG["ingest_queued"]["en"].split("(")[0]) and name in queued
    async with pool.connection() as conn:
        job = await (await conn.execute(
            "SELECT u.telegram_id FROM ingestion_jobs j JOIN users u ON u.id = j.requested_by WHERE j.filename = %s",
            (name,))).fetchone()
    assert job is not None and job["telegram_id"] == ADMIN
    outcome = (await tg.wait_for("sendMessage", in_group, count=3, timeout=240)).shown
    assert outcome.startswith("✅") or CATALOG["reason_duplicate"]["en"] in outcome, outcome


async def test_ingest_without_url_or_replied_file_explains_both(tg: FakeTelegram) -> None:
    admin = Chat(tg, ADMIN)
    assert await admin.say("/ingest") == CATALOG["ingest_reply_usage"]["en"]
    words = {"message_id": 1, "date": int(time.time()), "chat": {"id": ADMIN, "type": "private", "first_name": "Test"},
             "from": {"id": ADMIN, "is_bot": False, "first_name": "Test"}, "text": "just words"}
    tg.message_update(chat_id=ADMIN, user_id=ADMIN, text="/ingest", reply_to_message=words)
    assert await admin.reply() == CATALOG["ingest_reply_usage"]["en"]


async def test_reindex_embeds_what_is_missing_and_reports_done(tg: FakeTelegram, pool: Any,
                                                               ray_system: RaySystem) -> None:
    async with pool.connection() as conn:  # forget a few vectors, as a model change would (all of them)
        await conn.execute("DELETE FROM embedding_refs WHERE chunk_id IN "
                           "(SELECT chunk_id FROM embedding_refs ORDER BY chunk_id LIMIT 3)")
        missing = (await (await conn.execute(
            "SELECT count(*) AS n FROM chunks c WHERE NOT EXISTS "
            "(SELECT 1 FROM embedding_refs r WHERE r.chunk_id = c.id)")).fetchone())["n"]
    admin, model = Chat(tg, ADMIN), embedding_model(ray_system.settings)
    progress = CATALOG["reindex_progress"]["en"]
    assert await admin.say("/reindex") == CATALOG["reindex_started"]["en"].format(model=model)
    first = await admin.reply(timeout=60)  # once the job has counted; it may have embedded some already
    assert first in [progress.format(done=d, total=missing) for d in range(missing + 1)], first
    assert await admin.reply(timeout=240) == CATALOG["reindex_done"]["en"].format(total=missing, model=model)
    if first != progress.format(done=missing, total=missing):
        assert tg.last("editMessageText").shown == progress.format(done=missing, total=missing)
    async with pool.connection() as conn:
        left = (await (await conn.execute(
            "SELECT count(*) AS n FROM chunks c WHERE NOT EXISTS "
            "(SELECT 1 FROM embedding_refs r WHERE r.chunk_id = c.id)")).fetchone())["n"]
    assert left == 0


async def test_http_reindex_runs_the_ingestors_one_job_to_the_end(tg: FakeTelegram, ray_system: RaySystem, pool: Any) -> None:
    admin, learner = Chat(tg, ADMIN), Chat(tg, next(_ids))
    await learner.say("/start")
    admin_token, learner_token = await issue_token(admin, ADMIN), await issue_token(admin, learner.user_id)
    async with pool.connection() as conn:
        await conn.execute("DELETE FROM embedding_refs WHERE chunk_id IN "
                           "(SELECT chunk_id FROM embedding_refs ORDER BY chunk_id DESC LIMIT 2)")
    async with httpx.AsyncClient(base_url=ray_system.base_url, timeout=60) as http:
        refused = [(await http.request(m, "/admin/reindex", headers=bearer(learner_token))).status_code
                   for m in ("POST", "GET")]
        started = await http.post("/admin/reindex", headers=bearer(admin_token))
        assert started.status_code == 202, started.text
        job = started.json()
        again = (await http.post("/admin/reindex", headers=bearer(admin_token))).json()
        assert again["id"] == job["id"] if again["already_running"] else again["id"] != job["id"]  # one at a time
        deadline = time.monotonic() + 240
        while job["state"] == "running" and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
            job = (await http.get("/admin/reindex", headers=bearer(admin_token))).json()
    assert refused == [403, 403]
    assert job["state"] == "done" and job["done"] == job["total"] and job["collection"], job
    async with pool.connection() as conn:
        left = (await (await conn.execute(
            "SELECT count(*) AS n FROM chunks c WHERE NOT EXISTS "
            "(SELECT 1 FROM embedding_refs r WHERE r.chunk_id = c.id)")).fetchone())["n"]
    assert left == 0
