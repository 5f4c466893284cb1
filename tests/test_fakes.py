"""Tests of the loopback fakes, driven by the real aiogram and openai clients."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramBadRequest, TelegramRetryAfter
from aiogram.types import BufferedInputFile, Message, Update
from openai import APIStatusError, APITimeoutError, AsyncOpenAI

from tests.fakes.openai import FakeOpenAI, fake_embedding
from tests.fakes.telegram import FakeTelegram, UploadedFile

CHAT = 42


@pytest_asyncio.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server


@pytest_asyncio.fixture
async def bot(tg: FakeTelegram) -> AsyncIterator[Bot]:
    session = AiohttpSession(api=TelegramAPIServer.from_base(tg.base_url, is_local=True))
    async with Bot(tg.token, session=session) as client:
        yield client


@pytest_asyncio.fixture
async def ai() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as server:
        yield server


@pytest_asyncio.fixture
async def client(ai: FakeOpenAI) -> AsyncIterator[AsyncOpenAI]:
    async with AsyncOpenAI(base_url=ai.base_url + "/v1", api_key="x", max_retries=0) as openai_client:
        yield openai_client


# --------------------------------------------------------------------------- Telegram


@pytest.mark.asyncio
async def test_send_message_is_recorded_with_parsed_params(tg: FakeTelegram, bot: Bot) -> None:
    keyboard = {"inline_keyboard": [[{"text": "Next", "callback_data": "next"}]]}
    sent = await bot.send_message(CHAT, "Salam", reply_markup=keyboard)

    call = tg.last("sendMessage")
    assert call.params["chat_id"] == "42"
    assert call.params["text"] == "Salam"
    assert call.params["reply_markup"] == keyboard
    assert (sent.chat.id, sent.text, sent.reply_markup.inline_keyboard[0][0].text) == (CHAT, "Salam", "Next")
    second = await bot.send_message(CHAT, "again")
    assert second.message_id == sent.message_id + 1


@pytest.mark.asyncio
async def test_edit_to_identical_text_raises_not_modified(bot: Bot) -> None:
    sent = await bot.send_message(CHAT, "v1")
    edited = await bot.edit_message_text(text="v2", chat_id=CHAT, message_id=sent.message_id)
    assert isinstance(edited, Message) and edited.text == "v2"

    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_text(text="v2", chat_id=CHAT, message_id=sent.message_id)


@pytest.mark.asyncio
async def test_html_is_validated_like_telegram(bot: Bot) -> None:
    sent = await bot.send_message(CHAT, "<b>bold</b> &amp; more", parse_mode="HTML")
    assert sent.text == "bold & more"
    with pytest.raises(TelegramBadRequest, match="can't parse entities"):
        await bot.send_message(CHAT, "1 < 2", parse_mode="HTML")
    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await bot.send_message(CHAT, "x" * 4097)


@pytest.mark.asyncio
async def test_inject_429_raises_retry_after_once(tg: FakeTelegram, bot: Bot) -> None:
    tg.inject_429("sendMessage", retry_after=7)

    with pytest.raises(TelegramRetryAfter) as caught:
        await bot.send_message(CHAT, "hi")
    assert caught.value.retry_after == 7
    await bot.send_message(CHAT, "hi")
    assert len(tg.calls("sendMessage")) == 2


@pytest.mark.asyncio
async def test_inject_error_and_unknown_method(tg: FakeTelegram, bot: Bot) -> None:
    tg.inject_error("sendChatAction", 403, "Forbidden: bot was blocked by the user")
    with pytest.raises(Exception, match="bot was blocked"):
        await bot.send_chat_action(CHAT, "typing")
    assert await bot.send_chat_action(CHAT, "typing") is True

    async with httpx.AsyncClient() as http:
        response = await http.post(f"{tg.base_url}/bot{tg.token}/noSuchMethod")
    assert response.status_code == 404
    assert response.json() == {"ok": False, "error_code": 404, "description": "Not Found: method not found"}


@pytest.mark.asyncio
async def test_send_poll_recorded_and_answer_update_validates(tg: FakeTelegram, bot: Bot) -> None:
    sent = await bot.send_poll(
        CHAT, "2 + 2?", options=["3", "4", "5"], type="quiz", correct_option_id=1, is_anonymous=False
    )

    call = tg.last("sendPoll")
    assert call.params["options"] == ["3", "4", "5"]
    assert call.params["correct_option_id"] == "1"
    assert sent.poll is not None
    assert (sent.poll.type, sent.poll.correct_option_id, sent.poll.is_anonymous) == ("quiz", 1, False)
    answer = Update.model_validate(tg.poll_answer_update(sent.poll.id, user_id=7, option_ids=[1]))
    assert answer.poll_answer is not None and answer.poll_answer.option_ids == [1]
    stopped = await bot.stop_poll(CHAT, sent.message_id)
    assert stopped.is_closed


@pytest.mark.asyncio
async def test_uploads_are_recorded_and_files_downloadable(tg: FakeTelegram) -> None:
    session = AiohttpSession(api=TelegramAPIServer.from_base(tg.base_url))  # HTTP downloads
    async with Bot(tg.token, session=session) as bot:
        await bot.send_document(CHAT, BufferedInputFile(b"%PDF-1", filename="notes.pdf"), caption="c")
        upload = tg.last("sendDocument").params["document"]
        assert isinstance(upload, UploadedFile)
        assert (upload.filename, upload.size, upload.content) == ("notes.pdf", 6, b"%PDF-1")
        assert upload.content_type

        update = Update.model_validate(tg.document_message_update(CHAT, 7, content=b"hello", file_name="a.txt"))
        assert update.message is not None and update.message.document is not None
        downloaded = await bot.download(update.message.document.file_id, destination=io.BytesIO())
        assert downloaded is not None and downloaded.read() == b"hello"


@pytest.mark.asyncio
async def test_builders_produce_valid_updates(tg: FakeTelegram) -> None:
    raws = [
        tg.message_update(CHAT, CHAT, "/start", language_code="ar"),
        tg.edited_message_update(CHAT, CHAT, message_id=1, text="edited"),
        tg.callback_update(CHAT, CHAT, "next"),
    ]
    updates = [Update.model_validate(raw) for raw in raws]
    assert [u.update_id for u in updates] == [1, 2, 3]
    assert updates[0].message is not None and updates[0].message.entities is not None  # bot_command


@pytest.mark.asyncio
async def test_get_updates_honours_offset_and_holds_long_poll(tg: FakeTelegram, bot: Bot) -> None:
    first, second = tg.message_update(CHAT, CHAT, "a"), tg.message_update(CHAT, CHAT, "b")
    assert [u.update_id for u in await bot.get_updates(timeout=1)] == [first["update_id"], second["update_id"]]
    assert [u.update_id for u in await bot.get_updates(offset=second["update_id"], limit=5)] == [second["update_id"]]

    started = time.monotonic()
    assert await bot.get_updates(offset=second["update_id"] + 1, timeout=1) == []
    assert time.monotonic() - started >= 0.9


@pytest.mark.asyncio
async def test_polling_dispatcher_replies_without_busy_loop(tg: FakeTelegram, bot: Bot) -> None:
    dp = Dispatcher()

    @dp.message()
    async def echo(message: Message) -> None:
        await message.answer(f"pong: {message.text}")

    polling = asyncio.create_task(
        dp.start_polling(bot, polling_timeout=2, handle_signals=False, close_bot_session=False)
    )
    try:
        await tg.wait_for("getUpdates")
        tg.message_update(CHAT, CHAT, "hi")
        reply = await tg.wait_for("sendMessage", lambda c: c.params["text"] == "pong: hi", timeout=5)
        assert reply.params["chat_id"] == str(CHAT)
        await asyncio.sleep(2.5)  # one more full long-poll cycle; a busy loop would make hundreds
        assert 2 <= len(tg.calls("getUpdates")) <= 5
    finally:
        await dp.stop_polling()
        await polling


# --------------------------------------------------------------------------- OpenAI


@pytest.mark.asyncio
async def test_embeddings_float_and_base64_are_deterministic(ai: FakeOpenAI, client: AsyncOpenAI) -> None:
    texts = ["the patience of the scholar", "patience of a scholar", "unrelated banana"]
    as_floats = await client.embeddings.create(model="m", input=texts, encoding_format="float")
    as_default = await client.embeddings.create(model="m", input=texts)  # base64 on the wire

    floats = [d.embedding for d in as_floats.data]
    assert [d.embedding for d in as_default.data] == floats
    assert all(len(v) == 64 for v in floats)
    assert floats[0] == fake_embedding(texts[0]) == ai.embed(texts[0])
    assert ai.requests[-1][1]["encoding_format"] == "base64"
    assert as_floats.usage.prompt_tokens == 11  # whitespace words

    def cosine(a: list[float], b: list[float]) -> float:
        return sum(x * y for x, y in zip(a, b, strict=True))

    assert cosine(floats[0], floats[1]) > cosine(floats[0], floats[2])


@pytest.mark.asyncio
async def test_chat_completion_plain_and_streaming(ai: FakeOpenAI, client: AsyncOpenAI) -> None:
    messages = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "What is sabr?"}]
    plain = await client.chat.completions.create(model="gpt-4o-mini", messages=messages)
    assert plain.choices[0].message.content == "Answer: What is sabr?"

    ai.responder = lambda request: "Sabr means  patient perseverance. "
    ai.chunk_delay = 0.01
    stream = await client.chat.completions.create(
        model="gpt-4o-mini", messages=messages, stream=True, stream_options={"include_usage": True}
    )
    chunks = [chunk async for chunk in stream]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Sabr means  patient perseverance. "
    assert len(chunks) > 3
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert (chunks[-1].usage.prompt_tokens, chunks[-1].usage.completion_tokens) == (5, 4)


@pytest.mark.asyncio
async def test_models_endpoint(client: AsyncOpenAI) -> None:
    models = [m.id async for m in client.models.list()]
    assert "gpt-4o-mini" in models


@pytest.mark.asyncio
async def test_fail_next_raises_api_status_error(ai: FakeOpenAI, client: AsyncOpenAI) -> None:
    ai.fail_next(1, status=500, path="/v1/embeddings")
    await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
    with pytest.raises(APIStatusError) as caught:
        await client.embeddings.create(model="m", input="x")
    assert caught.value.status_code == 500
    await client.embeddings.create(model="m", input="x")

    ai.down = True
    with pytest.raises(APIStatusError) as caught:
        await client.models.list()
    assert caught.value.status_code == 503
    ai.reset()
    assert ai.requests == []
    await client.models.list()


@pytest.mark.asyncio
async def test_stall_triggers_client_timeout(ai: FakeOpenAI) -> None:
    ai.stall(5)
    async with AsyncOpenAI(base_url=ai.base_url + "/v1", api_key="x", max_retries=0, timeout=0.3) as slow:
        started = time.monotonic()
        with pytest.raises(APITimeoutError):
            await slow.embeddings.create(model="m", input="x")
        assert time.monotonic() - started < 2
        await slow.embeddings.create(model="m", input="x")
