"""Rendering a growing answer into one chat while it is generated, then the final message(s).

`ReplyStream` owns the Bot API traffic of one streamed reply:

* while the context is open, ``sendChatAction("typing")`` is refreshed every ``typing_interval_s``
  (Telegram shows it for ~5 s) until `finish` or exit, exceptions included;
* `update` takes a plain-text snapshot and never waits for the network: it remembers the latest
  snapshot and a background task sends it when the chat's pacing slot comes (coalescing);
* in a private chat the snapshot goes out as ``sendMessageDraft`` (Bot API 9.3, one non-zero
  ``draft_id`` per stream); in a group the first snapshot is a ``sendMessage`` and later ones
  ``editMessageText`` of it; an unchanged snapshot is never re-sent (no identical edits);
* at most one streaming call per ``min_interval_s`` per chat, shared by every stream of the
  process (`_Pacer`); a snapshot over Telegram's limit is shown as its head plus "…";
* `finish` sends the final Telegram-HTML answer split by `split_message`: in a private chat each
  part as a new message; in a group the streamed message is edited into part 1 (paced, skipped
  when identical) and the other parts are sent after it.

Usage::

    async with ReplyStream(bot, chat_id, private=True) as stream:
        await stream.update(text_so_far)
        messages = await stream.finish(final_html)
"""
from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from types import TracebackType

from aiogram import Bot
from aiogram.enums import ChatAction, ParseMode
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest
from aiogram.types import Message
from loguru import logger

from bot.split import TELEGRAM_LIMIT, split_message, truncate_plain, visible_text

ChatKey = tuple[int, int]


class _Pacer:
    """When each chat may next receive a streaming call; process-wide, shared by all streams."""

    def __init__(self, max_chats: int = 4096) -> None:
        self._next: dict[ChatKey, float] = {}
        self._max_chats = max_chats

    def wait_s(self, key: ChatKey, now: float) -> float:
        return max(0.0, self._next.get(key, 0.0) - now)

    def take(self, key: ChatKey, now: float, interval_s: float) -> None:
        self._next[key] = now + interval_s
        if len(self._next) > self._max_chats:
            self._next = {k: t for k, t in self._next.items() if t > now}


_PACER = _Pacer()


class ReplyStream:
    """One streamed reply in one chat (see the module docstring for the rules)."""

    def __init__(self, bot: Bot, chat_id: int, *, private: bool, min_interval_s: float = 1.0,
                 typing_interval_s: float = 4.0, message_thread_id: int | None = None,
                 limit: int = TELEGRAM_LIMIT) -> None:
        self.bot, self.chat_id, self.private = bot, chat_id, private
        self.min_interval_s, self.typing_interval_s = min_interval_s, typing_interval_s
        self.thread_id, self.limit = message_thread_id, limit
        self.draft_id = secrets.randbelow(2**31 - 2) + 1
        self._latest = self._shown = ""
        self._message: Message | None = None
        self._sending = self._finished = self._closed = False
        self._flusher: asyncio.Task[None] | None = None
        self._typing: asyncio.Task[None] | None = None

    async def __aenter__(self) -> ReplyStream:
        self._typing = asyncio.create_task(self._keep_typing(), name=f"typing-{self.chat_id}")
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self._stop_typing()
        await self._stop_flusher()

    # ----------------------------------------------------------------- producer API

    async def update(self, text: str) -> None:
        """Show ``text`` (plain, the whole answer so far) when the chat's next slot comes."""
        if self._finished:
            raise RuntimeError("update() after finish()")
        self._latest = truncate_plain(text.strip(), self.limit)
        if not self._closed and self._latest != self._shown and (self._flusher is None or self._flusher.done()):
            self._flusher = asyncio.create_task(self._flush(), name=f"stream-{self.chat_id}")

    async def finish(self, final_html: str) -> list[Message]:
        """Send the final answer (Telegram HTML) and return the messages that now hold it."""
        if self._finished:
            raise RuntimeError("finish() called twice")
        self._finished = True
        await self._stop_typing()
        await self._stop_flusher()
        parts = split_message(final_html, self.limit)
        if not parts:
            logger.warning("empty final answer, nothing sent", chat_id=self.chat_id)
            return []
        messages: list[Message] = []
        if self._message is not None:
            messages.append(await self._edit_final(self._message, parts.pop(0)))
        for part in parts:
            messages.append(await self.bot.send_message(self.chat_id, part, parse_mode=ParseMode.HTML,
                                                        message_thread_id=self.thread_id))
        return messages

    # ----------------------------------------------------------------- streaming

    @property
    def _key(self) -> ChatKey:
        return self.bot.id, self.chat_id

    async def _wait_for_slot(self) -> None:
        while (delay := _PACER.wait_s(self._key, time.monotonic())) > 0:
            await asyncio.sleep(delay)
        _PACER.take(self._key, time.monotonic(), self.min_interval_s)

    async def _flush(self) -> None:
        """Send the latest snapshot at each free slot until nothing new is pending."""
        while not self._closed and self._latest and self._latest != self._shown:
            await self._wait_for_slot()
            snapshot = self._latest
            if self._closed or snapshot == self._shown:
                return
            self._sending = True
            try:
                await self._show(snapshot)
            except TelegramAPIError as error:
                logger.warning("streaming update failed", chat_id=self.chat_id, error=str(error))
            finally:
                self._sending = False
            self._shown = snapshot

    async def _show(self, snapshot: str) -> None:
        if self.private:
            await self.bot.send_message_draft(self.chat_id, self.draft_id, text=snapshot, parse_mode=None,
                                              message_thread_id=self.thread_id)
        elif self._message is None:
            self._message = await self.bot.send_message(self.chat_id, snapshot, parse_mode=None,
                                                        message_thread_id=self.thread_id)
        else:
            self._message = await self._edit(self._message, snapshot, None)

    async def _edit(self, message: Message, text: str, parse_mode: str | None) -> Message:
        try:
            edited = await self.bot.edit_message_text(text=text, chat_id=self.chat_id,
                                                      message_id=message.message_id, parse_mode=parse_mode)
        except TelegramBadRequest as error:
            if "message is not modified" not in str(error):
                raise
            return message
        return edited if isinstance(edited, Message) else message

    async def _edit_final(self, message: Message, part: str) -> Message:
        """The streamed message becomes part 1; if it can no longer be edited, part 1 is sent anew."""
        if "<" not in part and visible_text(part) == (message.text or ""):
            return message
        await self._wait_for_slot()
        try:
            return await self._edit(message, part, ParseMode.HTML)
        except TelegramBadRequest as error:
            logger.warning("final edit refused, sending instead", chat_id=self.chat_id, error=str(error))
        return await self.bot.send_message(self.chat_id, part, parse_mode=ParseMode.HTML,
                                           message_thread_id=self.thread_id)

    async def _stop_flusher(self) -> None:
        """Let an in-flight call finish (its message id matters); drop a pending snapshot."""
        task, self._flusher = self._flusher, None
        self._closed = True
        if task is None:
            return
        if task.done():
            if not task.cancelled() and (error := task.exception()) is not None:
                logger.warning("streaming task failed", chat_id=self.chat_id, error=repr(error))
            return
        if self._sending:
            with contextlib.suppress(Exception):
                await asyncio.shield(task)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    # ----------------------------------------------------------------- typing

    async def _keep_typing(self) -> None:
        while True:
            try:
                await self.bot.send_chat_action(self.chat_id, ChatAction.TYPING,
                                                message_thread_id=self.thread_id)
            except TelegramAPIError as error:
                logger.debug("typing action failed", chat_id=self.chat_id, error=str(error))
            await asyncio.sleep(self.typing_interval_s)

    async def _stop_typing(self) -> None:
        task, self._typing = self._typing, None
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
