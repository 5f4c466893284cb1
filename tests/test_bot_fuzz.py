"""1,000 random and malformed updates (huge and RTL texts, control characters, unknown commands,
stickers, files of the wrong type, edited messages, garbage callback data, stray poll answers) crash
nothing: no handler raises, the bot still answers, the actors live, and the wallet stays balanced
with nothing left pending."""
from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from typing import Any

from loguru import logger

from core.ledger.reconcile import reconcile
from tests.conftest import RaySystem
from tests.fakes.telegram import FakeTelegram
from tests.telegram_chat import Chat, tg  # noqa: F401 - tg is a fixture

SEED = 20261128
USERS = [830_001 + i for i in range(12)]
TEXTS = ["ما هو مفتاح المعرفة؟", "Comment réviser ?", "photosynthesis", "\u202eRTL override\u202c texte",
         "\x00\x01\x07 control", "🙂🙂🙂", "  ", "ـــــ", "/quiz", "/quiz 🙂 99", "/quiz photosynthesis -3",
         "/topup @x 5", "/role 1 god", "/tier", "/stats", "/users", "/reindex", "/ingest", "/jobs",
         "/unknown_cmd arg", "/start@other_bot", "/score extra", "/new", "/balance", "/history 999999999999",
         "/language xx", "/search", "/search " + "ع" * 3000, "[1] [2] <b>not html</b> &amp;", "\u200f\u200e\u061c"]


def random_text(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.1:
        return "".join(chr(rng.choice([rng.randint(0x20, 0x7e), rng.randint(0x600, 0x6ff), rng.randint(0, 0x1f),
                                       rng.randint(0x1f300, 0x1f64f)])) for _ in range(rng.randint(1, 200)))
    if kind < 0.15:
        return rng.choice(["س", "é", "a", "\u0651"]) * rng.randint(4097, 20_000)  # over Telegram's own limit
    return rng.choice(TEXTS)


def updates(fake: FakeTelegram, rng: random.Random) -> list[Callable[[], Any]]:
    def one() -> Callable[[], Any]:
        user = rng.choice(USERS)
        chat_type = rng.choice(["private", "private", "private", "group"])
        chat = user if chat_type == "private" else -100_000 - user
        kind = rng.randrange(8)
        if kind <= 2:
            return lambda: fake.message_update(chat, user, random_text(rng), rng.choice(["ar", "fr", "en", "zz", ""]),
                                               chat_type=chat_type)
        if kind == 3:
            return lambda: fake.message_update(chat, user, "", sticker={"file_id": "stk", "file_unique_id": "u",
                                                                        "type": "regular", "width": 512,
                                                                        "height": 512, "is_animated": False,
                                                                        "is_video": False}, chat_type=chat_type)
        if kind == 4:
            return lambda: fake.document_message_update(chat, user, file_name=rng.choice(["a.exe", "b.pdf", "c"]),
                                                        mime_type="application/octet-stream",
                                                        content=rng.randbytes(rng.randint(0, 2048)))
        if kind == 5:
            return lambda: fake.edited_message_update(chat, user, rng.randint(1, 50), random_text(rng))
        if kind == 6:
            return lambda: fake.callback_update(user, chat, rng.choice(["", "x" * 64, "lang:zz", "\x00", "💥"]))
        return lambda: fake.poll_answer_update(str(rng.randint(1, 10**6)), user, rng.choice([[], [0], [99], [1, 2]]))
    return [one() for _ in range(1000)]


async def test_a_thousand_malformed_updates_crash_nothing(ray_system: RaySystem, tg: FakeTelegram, pool: Any) -> None:
    failures: list[str] = []
    sink = logger.add(lambda m: failures.append(m), level="ERROR", filter=lambda r: r["message"] == "update failed")
    try:
        rng = random.Random(SEED)
        for push in updates(tg, rng):
            push()
        assert await tg.wait_for("sendMessage", count=300, timeout=240)  # the bot worked through them
        await asyncio.sleep(5)  # let the last answers settle
        alive = Chat(tg, 819_999, "fr")
        assert "Ustadh" in await alive.say("/start")
    finally:
        logger.remove(sink)
    assert failures == []
    import ray
    assert all(ray.get([h.ping.remote() for h in ray_system.handles.values()], timeout=30))
    assert await settled(pool), "reservations still pending 180 s after the last update"
    async with pool.connection() as conn:
        report = await reconcile(conn)
    assert report.ok, report.mismatches


async def settled(pool: Any, timeout: float = 180) -> bool:
    """Every reservation of the fuzzed users resolved (answers still in flight finish first)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        async with pool.connection() as conn:
            pending = await (await conn.execute(
                """SELECT count(*) AS n FROM reservations r JOIN users u ON u.id = r.user_id
                   WHERE u.telegram_id = ANY(%s) AND r.status = 'pending'""", (USERS,))).fetchone()
        if pending["n"] == 0:
            return True
        await asyncio.sleep(2)
    return False
