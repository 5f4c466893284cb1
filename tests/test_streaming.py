"""ReplyStream against the loopback Bot API: drafts in private chats, one paced message edited in
groups, no identical edits, a long final answer split into valid parts, typing kept up and stopped."""
from __future__ import annotations

import asyncio
import html
import time
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer

from bot.middlewares.retry_after import RetryAfterMiddleware
from bot.split import split_message, utf16_len, visible_text
from bot.streaming import ReplyStream
from tests.corpus_texts import ARABIC, ENGLISH, FRENCH
from tests.fakes.telegram import Call, FakeTelegram

GROUP_SLACK_S = 0.05  # Call.at is the arrival time; the stream paces on its own send time


@pytest_asyncio.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as fake:
        yield fake


@pytest_asyncio.fixture
async def bot(tg: FakeTelegram) -> AsyncIterator[Bot]:
    session = AiohttpSession(api=TelegramAPIServer.from_base(tg.base_url, is_local=False))
    session.middleware(RetryAfterMiddleware())
    bot = Bot(tg.token, session=session)
    yield bot
    await bot.session.close()


async def produce(stream: ReplyStream, text: str, pause_s: float) -> float:
    """Feed ``text`` word by word like an LLM would; return the slowest update() call."""
    slowest, so_far = 0.0, ""
    for word in text.split(" "):
        so_far += word + " "
        started = time.monotonic()
        await stream.update(so_far)
        slowest = max(slowest, time.monotonic() - started)
        await asyncio.sleep(pause_s)
    return slowest


def streaming_calls(tg: FakeTelegram, chat_id: int) -> list[Call]:
    methods = {"sendmessage", "editmessagetext", "sendmessagedraft"}
    return [c for c in tg.calls() if c.method.lower() in methods and c.params.get("chat_id") == str(chat_id)]


def gaps(calls: list[Call]) -> list[float]:
    return [b.at - a.at for a, b in zip(calls, calls[1:])]


async def test_private_chat_streams_drafts_then_sends_the_final_message(tg: FakeTelegram, bot: Bot) -> None:
    chat = 4201
    async with ReplyStream(bot, chat, private=True, min_interval_s=0.5, typing_interval_s=0.3) as stream:
        slowest = await produce(stream, FRENCH, pause_s=0.02)
        messages = await stream.finish("<b>Réponse</b>\n\n" + html.escape(FRENCH))
    drafts = tg.calls("sendMessageDraft")
    assert slowest < 0.05
    assert len(drafts) >= 3
    assert {c.params["draft_id"] for c in drafts} == {str(stream.draft_id)} and stream.draft_id != 0
    assert all("parse_mode" not in c.params for c in drafts)
    assert all(FRENCH.startswith(c.params["text"]) for c in drafts)
    assert all(gap >= 0.5 - GROUP_SLACK_S for gap in gaps(drafts))
    final = tg.last("sendMessage")
    assert final.params["parse_mode"] == "HTML" and len(tg.calls("sendMessage")) == 1
    assert [m.text for m in messages] == ["Réponse\n\n" + FRENCH]
    assert not tg.calls("editMessageText")
    typing = tg.calls("sendChatAction")
    assert len(typing) >= 3 and all(c.params["action"] == "typing" for c in typing)


async def test_group_edits_one_message_at_most_once_a_second(tg: FakeTelegram, bot: Bot) -> None:
    chat = -100777
    text = " ".join([ENGLISH] * 2)
    async with ReplyStream(bot, chat, private=False) as stream:
        slowest = await produce(stream, text, pause_s=0.025)
        messages = await stream.finish(html.escape(text) + "\n\n<i>Source: cours 3</i>")
    calls = streaming_calls(tg, chat)
    assert slowest < 0.05
    assert calls[0].method == "sendMessage" and len(tg.calls("sendMessage")) == 1
    assert len(calls) >= 3 and all(c.method == "editMessageText" for c in calls[1:])
    assert all(gap >= 1.0 - GROUP_SLACK_S for gap in gaps(calls)), gaps(calls)
    edits = [c.params["text"] for c in calls]
    assert all(a != b for a, b in zip(edits, edits[1:]))
    assert calls[-1].params["parse_mode"] == "HTML"
    assert [m.text for m in messages] == [text + "\n\nSource: cours 3"]
    assert {m.message_id for m in messages} == {int(calls[1].params["message_id"])}


async def test_a_repeated_snapshot_is_never_edited_again(tg: FakeTelegram, bot: Bot) -> None:
    chat = -100778
    async with ReplyStream(bot, chat, private=False, min_interval_s=0.3) as stream:
        await stream.update("Bonjour")
        await asyncio.sleep(0.5)
        for _ in range(20):
            await stream.update("Bonjour")
            await stream.update("Bonjour \n")
            await asyncio.sleep(0.03)
        await asyncio.sleep(0.5)
        messages = await stream.finish("Bonjour")
    assert len(tg.calls("sendMessage")) == 1
    assert tg.calls("editMessageText") == []
    assert [m.text for m in messages] == ["Bonjour"]


async def test_a_long_final_answer_is_split_across_messages(tg: FakeTelegram, bot: Bot) -> None:
    final = "\n\n".join(f"<b>{i}.</b> {html.escape(p)}" for i, p in enumerate([ARABIC, FRENCH, ENGLISH] * 8))
    parts = split_message(final)
    assert len(parts) >= 2
    group, private = -100779, 4202
    async with ReplyStream(bot, group, private=False) as stream:
        await stream.update(visible_text(final)[:500])
        await asyncio.sleep(0.2)
        in_group = await stream.finish(final)
    async with ReplyStream(bot, private, private=True) as stream:
        await stream.update(visible_text(final))
        in_private = await stream.finish(final)
    expected = [visible_text(p) for p in parts]
    assert [m.text for m in in_group] == expected and [m.text for m in in_private] == expected
    group_calls = streaming_calls(tg, group)
    assert [c.method for c in group_calls] == ["sendMessage", "editMessageText"] + ["sendMessage"] * (len(parts) - 1)
    assert [c.method for c in streaming_calls(tg, private)][-len(parts):] == ["sendMessage"] * len(parts)


async def test_an_overlong_snapshot_is_shown_truncated(tg: FakeTelegram, bot: Bot) -> None:
    chat = 4204
    async with ReplyStream(bot, chat, private=True) as stream:
        await stream.update("كلمة " * 2000)
        await asyncio.sleep(0.2)
        await stream.finish("<b>ok</b>")
    draft = tg.last("sendMessageDraft").params["text"]
    assert utf16_len(draft) <= 4096 and draft.endswith("…")


async def test_typing_stops_on_exit_even_on_error(tg: FakeTelegram, bot: Bot) -> None:
    chat = 4205
    with pytest.raises(RuntimeError):
        async with ReplyStream(bot, chat, private=True, min_interval_s=0.2, typing_interval_s=0.1) as stream:
            await stream.update("partial")
            await asyncio.sleep(0.35)
            await stream.update("partial answer")
            raise RuntimeError("model failed")
    seen = len(tg.calls())
    assert len(tg.calls("sendChatAction")) >= 3
    await asyncio.sleep(0.4)
    assert len(tg.calls()) == seen


async def test_update_never_waits_for_a_flood_wait(tg: FakeTelegram, bot: Bot) -> None:
    chat = 4206
    tg.inject_429("sendMessageDraft", retry_after=1)
    async with ReplyStream(bot, chat, private=True, min_interval_s=0.2) as stream:
        slowest = await produce(stream, ENGLISH, pause_s=0.015)
        await stream.finish(html.escape(ENGLISH))
    assert slowest < 0.05
    drafts = tg.calls("sendMessageDraft")
    assert len(drafts) >= 2 and drafts[1].at - drafts[0].at >= 1.0
    assert tg.last("sendMessage").params["text"] == html.escape(ENGLISH)
