"""The bot under load: updates per second and latency from an update to the bot's first Bot API call,
at 50 concurrent chats, with the loopback LLM (run by hand).

    .venv/bin/python bench/bot.py [--chats 50] [--questions 4] [--llm-delay 0.02]

Starts a throwaway offline system (Ray, the actors, Serve) on DATABASE_URL / REDIS_URL when set
(else embedded stores), ingests the Arabic, French and English test lessons, and deploys a Tutor
whose LLM is a loopback OpenAI-compatible server (`tests/fakes/openai.py`, streaming word by word
every `--llm-delay` s). The real aiogram bot polls a loopback Bot API server (`tests/fakes/telegram.py`).
`--chats` learners (premium tier, so their own rate limits do not refuse them) each ask
`--questions` questions one after another, all chats at once. Printed per update: time to the first
Bot API call for that chat (the typing action), to the first streamed draft, and to the final
answer; and updates handled per second over the run. The baseline beside them is the same
question asked of the Tutor deployment's handle directly (no bot, no Telegram), one at a time.
"""
from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pydantic import SecretStr

from bench.stores import offline_settings, running_system
from core.config import Settings
from tests.corpus_texts import ARABIC, ENGLISH, FRENCH
from tests.fakes.openai import FakeOpenAI
from tests.fakes.telegram import FakeTelegram

QUESTIONS = ["How do green plants use sunlight?", "ما هو مفتاح المعرفة؟",
             "Comment la mémoire s'améliore-t-elle ?", "What do plants release into the air?"]
REPLY = ("According to the lesson, plants use sunlight to turn water and carbon dioxide into sugar and oxygen [1]. "
         "This happens in the leaves [1].")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def start_llm(delay: float) -> FakeOpenAI:
    fake = FakeOpenAI()
    fake.responder = lambda request: REPLY
    fake.chunk_delay = delay
    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, daemon=True).start()
    asyncio.run_coroutine_threadsafe(fake.start(), loop).result(10)
    return fake


async def ingest() -> None:
    from actors.clients.ingestion import Ingestion
    from ops.ingest import ingest_jobs

    client = Ingestion()
    jobs = [await client.submit_file(text.encode(), name, uri=f"bench-bot:{name}")
            for name, text in (("lecture.txt", ARABIC), ("lecon.txt", FRENCH), ("lesson.txt", ENGLISH))]
    await ingest_jobs(client, jobs, desc="ingesting lessons")


async def learners(settings: Settings, telegram_ids: list[int]) -> list[int]:
    import psycopg

    async with await psycopg.AsyncConnection.connect(settings.DATABASE_URL or "", autocommit=True) as conn:
        rows = await (await conn.execute(
            """INSERT INTO users (telegram_id, first_name, tier) SELECT t, 'bench', 'premium' FROM unnest(%s::bigint[]) t
               RETURNING id""", (telegram_ids,))).fetchall()
    return [row[0] for row in rows]


async def direct_baseline(handle: Any, user_id: int, rounds: int) -> list[float]:
    """Seconds from asking the Tutor's handle to its first event, one question at a time."""
    from actors.clients.tutor import Tutor

    tutor, firsts = Tutor(handle), []
    for i in range(rounds):
        started = time.perf_counter()
        first = None
        async for _ in tutor.ask(user_id, QUESTIONS[i % len(QUESTIONS)], f"bench:{uuid.uuid4().hex}"):
            first = first or time.perf_counter() - started
        firsts.append(first or 0.0)
    return firsts


async def chat(tg: FakeTelegram, telegram_id: int, questions: int, seen: dict[str, list[float]]) -> None:
    mine = str(telegram_id)
    for i in range(questions):
        before = {m: len([c for c in tg.calls(m) if c.params.get("chat_id") == mine])
                  for m in ("sendChatAction", "sendMessageDraft", "sendMessage")}
        started = time.monotonic()
        tg.message_update(chat_id=telegram_id, user_id=telegram_id, text=QUESTIONS[i % len(QUESTIONS)])
        for method, key in (("sendChatAction", "first_call"), ("sendMessageDraft", "first_draft"),
                            ("sendMessage", "answer")):
            call = await tg.wait_for(method, lambda c: c.params.get("chat_id") == mine, count=before[method] + 1,
                                     timeout=300)
            seen[key].append(call.at - started)


async def run(settings: Settings, llm_handle: Any, args: argparse.Namespace) -> None:
    from actors.clients.tutor import Tutor
    from bot.app import build_bot, build_dispatcher
    from core.db.pool import open_pool

    await ingest()
    telegram_ids = [950_000 + i for i in range(args.chats + 1)]
    user_ids = await learners(settings, telegram_ids)
    baseline = await direct_baseline(llm_handle, user_ids[-1], 20)
    pool = await open_pool(settings.DATABASE_URL or "", None, max_size=8, name="bench")
    async with FakeTelegram() as tg:
        bot_settings = settings.model_copy(update={"TELEGRAM_BOT_TOKEN": SecretStr(tg.token),
                                                   "TELEGRAM_API_BASE": tg.base_url})
        bot = build_bot(bot_settings)
        dp = build_dispatcher(bot_settings, pool, tutor=Tutor(llm_handle))
        polling = asyncio.create_task(dp.start_polling(bot, polling_timeout=1, handle_signals=False,
                                                       close_bot_session=False))
        seen: dict[str, list[float]] = {"first_call": [], "first_draft": [], "answer": []}
        started = time.monotonic()
        await asyncio.gather(*(chat(tg, t, args.questions, seen) for t in telegram_ids[:-1]))
        elapsed = time.monotonic() - started
        await dp.stop_polling()
        await asyncio.wait([polling], timeout=5)
        await bot.session.close()
    await pool.close()
    report(seen, elapsed, baseline, args)


def report(seen: dict[str, list[float]], elapsed: float, baseline: list[float], args: argparse.Namespace) -> None:
    updates = len(seen["answer"])
    print(f"\n{args.chats} concurrent chats x {args.questions} questions = {updates} updates in {elapsed:.1f} s: "
          f"{updates / elapsed:.1f} updates/s (LLM streams a word every {args.llm_delay} s)")
    print(f"{'from the update to':>32} | {'p50 ms':>8} {'p99 ms':>8}")
    for key, label in (("first_call", "first Bot API call (typing)"), ("first_draft", "first streamed draft"),
                       ("answer", "final answer sent")):
        print(f"{label:>32} | {pct(seen[key], 0.5):8.1f} {pct(seen[key], 0.99):8.1f}")
    print(f"{'baseline: Tutor handle, 1 at a time':>32} | {statistics.median(baseline) * 1000:8.1f} "
          f"{pct(baseline, 0.99):8.1f}   (to its first event, no bot)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chats", type=int, default=50)
    parser.add_argument("--questions", type=int, default=4)
    parser.add_argument("--llm-delay", type=float, default=0.02)
    args = parser.parse_args()
    llm = start_llm(args.llm_delay)
    with offline_settings(HTTP_PORT=18124, RATE_LIMIT_GLOBAL_PER_S=10_000) as settings, running_system(settings):
        from ray import serve

        from serve_app.tutor import Tutor

        llm_settings = settings.model_copy(update={"OPENAI_BASE_URL": llm.base_url + "/v1",
                                                   "OPENAI_API_KEY": SecretStr("sk-bench")})
        handle = serve.run(Tutor.bind(llm_settings), name="tutor-llm", route_prefix=None)
        asyncio.run(run(settings, handle, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
