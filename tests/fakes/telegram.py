"""Fake Telegram Bot API server: the Telegram network edge, for tests only.

Owns everything the bot would otherwise send to ``api.telegram.org``: method calls
(``/bot<token>/<method>``), file downloads (``/file/bot<token>/<path>``) and the
``getUpdates`` long-poll.  The real aiogram client talks to it over loopback HTTP, so the
bot's own code, aiogram's serialisation and its error mapping all run unmodified; only the
remote service is replaced.  Tests drive it by pushing updates, inspecting recorded calls
and injecting failures::

    async with FakeTelegram() as tg:
        session = AiohttpSession(api=TelegramAPIServer.from_base(tg.base_url, is_local=True))
        bot = Bot(tg.token, session=session)
        tg.message_update(chat_id=42, user_id=42, text="/start")
        call = await tg.wait_for("sendMessage")

Realism kept on purpose: a wrong token gets 401, ``parse_mode=HTML`` text is validated
like Telegram does (``can't parse entities``), over-long texts are rejected, editing a
message to identical content returns "message is not modified", and ``getUpdates`` honours
``offset``/``limit``/``timeout``/``allowed_updates``.  Leniency kept on purpose: messages
the fake never saw (e.g. edited or deleted by id only) are treated as existing.

Note: with ``is_local=True`` aiogram's ``bot.download*`` reads ``file_path`` from the local
disk instead of HTTP; use a session with ``is_local=False`` to download via the fake.
"""

from __future__ import annotations

import asyncio
import html
import itertools
import json
import re
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

ChatKey = int | str
Handler = Callable[[dict[str, Any]], Awaitable[Any]]

_TEXT_LIMIT = 4096
_CAPTION_LIMIT = 1024
_FREE_TEXT_PARAMS = frozenset({"text", "caption", "question", "explanation", "description", "title"})
_HTML_TAGS = frozenset(
    {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler", "a"}
    | {"code", "pre", "blockquote", "tg-emoji", "tg-time"}
)
_TAG_RE = re.compile(r"<(/?)([A-Za-z][\w-]*)(?:\s[^<>]*)?>")
_NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)


@dataclass(frozen=True)
class Call:
    """One recorded Bot API call; ``at`` is ``time.monotonic()`` on arrival."""

    method: str
    params: dict[str, Any]
    at: float

    @property
    def shown(self) -> str:
        """What the user sees of this call's text or caption: Telegram HTML parsed when the call's
        parse mode says so, else the text as sent."""
        text = str(self.params.get("text", self.params.get("caption", "")))
        return _parse_html(text) if str(self.params.get("parse_mode")).lower() == "html" else text


@dataclass(frozen=True)
class UploadedFile:
    """A multipart file part, recorded in ``Call.params`` in place of its ``attach://`` key."""

    filename: str | None
    content_type: str
    size: int
    content: bytes = field(repr=False)


@dataclass(frozen=True)
class _StoredFile:
    content: bytes
    file_path: str


class _ApiError(Exception):
    """A Bot API error answer: ``{"ok": false, "error_code": ..., "description": ...}``."""

    def __init__(self, code: int, description: str, parameters: dict[str, Any] | None = None):
        super().__init__(f"{code} {description}")
        self.code, self.description, self.parameters = code, description, parameters

    def response(self) -> web.Response:
        body: dict[str, Any] = {"ok": False, "error_code": self.code, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return web.json_response(body, status=self.code)


class _Signal:
    """Wakes every waiter whenever state changes; usable from sync code (``fire``)."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def fire(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait_until(self, check: Callable[[], bool], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not check():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            try:
                await asyncio.wait_for(self._event.wait(), remaining)
            except TimeoutError:
                return check()
        return True


class FakeTelegram:
    """Loopback Telegram Bot API server (aiohttp) with recording and failure injection."""

    def __init__(
        self,
        token: str = "123456:TEST-token",
        bot_username: str = "ustadh_test_bot",
        bot_first_name: str = "Ustadh Test Bot",
    ) -> None:
        self.token = token
        self.bot_user = {
            "id": int(token.split(":", 1)[0]),
            "is_bot": True,
            "first_name": bot_first_name,
            "username": bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }
        self.base_url = ""
        self._calls: list[Call] = []
        self._updates: list[dict[str, Any]] = []
        self._update_ids = itertools.count(1)
        self._ids = itertools.count(1)
        self._message_ids: defaultdict[ChatKey, int] = defaultdict(int)
        self._messages: dict[tuple[ChatKey, int], dict[str, Any]] = {}
        self._chats: dict[ChatKey, dict[str, Any]] = {}
        self._polls: dict[str, dict[str, Any]] = {}
        self._files: dict[str, _StoredFile] = {}
        self._faults: defaultdict[str, deque[_ApiError]] = defaultdict(deque)
        self._webhook_url = ""
        self._signal = _Signal()
        self._closing = False
        self._runner: web.AppRunner | None = None
        self._methods = self._method_table()

    # ----------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        self._signal, self._closing = _Signal(), False
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_method)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        self._closing = True
        self._signal.fire()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeTelegram:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # ----------------------------------------------------------------- recording

    def calls(self, method: str | None = None) -> list[Call]:
        if method is None:
            return list(self._calls)
        return [c for c in self._calls if c.method.lower() == method.lower()]

    def last(self, method: str) -> Call:
        found = self.calls(method)
        if not found:
            raise AssertionError(f"no {method} call recorded; got {self._method_names()}")
        return found[-1]

    async def wait_for(
        self,
        method: str,
        predicate: Callable[[Call], bool] | None = None,
        timeout: float = 10,
        count: int = 1,
    ) -> Call:
        """Wait until ``count`` matching calls exist (since ``clear``); return the count-th."""

        def matching() -> list[Call]:
            return [c for c in self.calls(method) if predicate is None or predicate(c)]

        if not await self._signal.wait_until(lambda: len(matching()) >= count, timeout):
            raise TimeoutError(
                f"{count} matching {method} call(s) not seen in {timeout}s; got {self._method_names()}"
            )
        return matching()[count - 1]

    def sent_polls(self, chat_id: int) -> list[dict[str, Any]]:
        """The polls the bot sent to a chat, oldest first (each with its ``id`` for poll_answer_update)."""
        return [m["poll"] for (chat, _), m in self._messages.items() if chat == chat_id and "poll" in m]

    def clear(self) -> None:
        self._calls.clear()

    def _method_names(self) -> list[str]:
        return [c.method for c in self._calls]

    # ----------------------------------------------------------------- injection

    def inject_429(self, method: str, retry_after: int, times: int = 1) -> None:
        error = _ApiError(429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after})
        self._faults[method.lower()].extend([error] * times)

    def inject_error(self, method: str, code: int, description: str, times: int = 1) -> None:
        self._faults[method.lower()].extend([_ApiError(code, description)] * times)

    def add_file(self, file_id: str, content: bytes, file_path: str) -> None:
        self._files[file_id] = _StoredFile(content, file_path)

    # ----------------------------------------------------------------- updates

    def push_update(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue an update for ``getUpdates``; assigns ``update_id`` and returns the update."""
        update = {**update, "update_id": next(self._update_ids)}
        self._updates.append(update)
        self._signal.fire()
        return update

    def message_update(
        self,
        chat_id: int,
        user_id: int,
        text: str,
        language_code: str = "en",
        chat_type: str = "private",
        first_name: str = "Test",
        **extra: Any,
    ) -> dict[str, Any]:
        message = self._user_message(chat_id, user_id, language_code, chat_type, first_name)
        message.update(text=text, **_command_entities(text), **extra)
        return self.push_update({"message": message})

    def edited_message_update(
        self,
        chat_id: int,
        user_id: int,
        message_id: int,
        text: str,
        language_code: str = "en",
        chat_type: str = "private",
        first_name: str = "Test",
        **extra: Any,
    ) -> dict[str, Any]:
        message = self._user_message(chat_id, user_id, language_code, chat_type, first_name, message_id)
        message.update(text=text, edit_date=int(time.time()), **extra)
        return self.push_update({"edited_message": message})

    def document_message_update(
        self,
        chat_id: int,
        user_id: int,
        *,
        file_id: str | None = None,
        file_name: str = "document.pdf",
        mime_type: str = "application/pdf",
        file_size: int | None = None,
        content: bytes | None = None,
        language_code: str = "en",
        chat_type: str = "private",
        first_name: str = "Test",
        **extra: Any,
    ) -> dict[str, Any]:
        """A user message with a document; ``content`` also makes it fetchable via getFile."""
        file_id = file_id or self._new_file_id("doc")
        if content is not None:
            self.add_file(file_id, content, f"documents/{file_name}")
            file_size = len(content) if file_size is None else file_size
        document = {"file_id": file_id, "file_unique_id": f"u-{file_id}", "file_name": file_name}
        document.update(mime_type=mime_type, **({"file_size": file_size} if file_size is not None else {}))
        message = self._user_message(chat_id, user_id, language_code, chat_type, first_name)
        message.update(document=document, **extra)
        return self.push_update({"message": message})

    def callback_update(
        self,
        user_id: int,
        chat_id: int,
        data: str,
        message_id: int | None = None,
        language_code: str = "en",
        first_name: str = "Test",
    ) -> dict[str, Any]:
        """A button press on ``message_id`` (default: the bot's latest message in the chat)."""
        message_id = message_id or self._last_bot_message_id(chat_id)
        message = self._messages.get((chat_id, message_id)) or self._remember(
            {"message_id": message_id, "date": int(time.time()), "chat": self._chat(chat_id), "from": self.bot_user}
        )
        query = {
            "id": str(next(self._ids)),
            "from": _user(user_id, first_name, language_code),
            "chat_instance": f"ci-{chat_id}",
            "message": message,
            "data": data,
        }
        return self.push_update({"callback_query": query})

    def poll_answer_update(
        self, poll_id: str, user_id: int, option_ids: list[int], first_name: str = "Test"
    ) -> dict[str, Any]:
        options = self._polls.get(poll_id, {}).get("options", [])
        persistent = [options[i]["persistent_id"] if i < len(options) else str(i) for i in option_ids]
        answer = {
            "poll_id": poll_id,
            "user": _user(user_id, first_name, "en"),
            "option_ids": option_ids,
            "option_persistent_ids": persistent,
        }
        return self.push_update({"poll_answer": answer})

    def _user_message(
        self,
        chat_id: int,
        user_id: int,
        language_code: str,
        chat_type: str,
        first_name: str,
        message_id: int | None = None,
    ) -> dict[str, Any]:
        chat: dict[str, Any] = {"id": chat_id, "type": chat_type}
        chat.update({"first_name": first_name} if chat_type == "private" else {"title": "Test chat"})
        self._chats[chat_id] = chat
        return {
            "message_id": message_id or self._next_message_id(chat_id),
            "date": int(time.time()),
            "chat": chat,
            "from": _user(user_id, first_name, language_code),
        }

    # ----------------------------------------------------------------- HTTP layer

    async def _handle_method(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await _read_params(request)
        self._calls.append(Call(method, params, time.monotonic()))
        self._signal.fire()
        try:
            if request.match_info["token"] != self.token:
                raise _ApiError(401, "Unauthorized")
            if faults := self._faults.get(method.lower()):
                raise faults.popleft()
            handler = self._methods.get(method.lower())
            if handler is None:
                raise _ApiError(404, "Not Found: method not found")
            result = await handler(params)
        except _ApiError as error:
            return error.response()
        return web.json_response({"ok": True, "result": result})

    async def _handle_file(self, request: web.Request) -> web.Response:
        path = request.match_info["path"]
        stored = next((f for f in self._files.values() if f.file_path == path), None)
        if request.match_info["token"] != self.token or stored is None:
            return _ApiError(404, "Not Found").response()
        return web.Response(body=stored.content, content_type="application/octet-stream")

    # ----------------------------------------------------------------- Bot API methods

    def _method_table(self) -> dict[str, Handler]:
        table: dict[str, Handler] = {
            "getMe": self._get_me,
            "getUpdates": self._get_updates,
            "sendMessage": self._send_message,
            "editMessageText": self._edit_message_text,
            "editMessageReplyMarkup": self._edit_reply_markup,
            "sendPhoto": self._send_photo,
            "sendDocument": self._send_document,
            "sendPoll": self._send_poll,
            "stopPoll": self._stop_poll,
            "deleteMessage": self._delete_message,
            "getFile": self._get_file,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
        }
        for name in ("sendMessageDraft", "sendChatAction", "answerCallbackQuery", "setMyCommands"):
            table[name] = self._true
        return {name.lower(): handler for name, handler in table.items()}

    async def _true(self, params: dict[str, Any]) -> bool:
        return True

    async def _get_me(self, params: dict[str, Any]) -> dict[str, Any]:
        return self.bot_user

    async def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset, limit = _int(params, "offset", 0), _int(params, "limit", 100)
        allowed = params.get("allowed_updates") or None
        if offset > 0:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]

        def ready() -> list[dict[str, Any]]:
            return [u for u in self._updates if allowed is None or _update_type(u) in allowed][:limit]

        await self._signal.wait_until(lambda: bool(ready()) or self._closing, _float(params, "timeout"))
        return ready()

    async def _send_message(self, params: dict[str, Any]) -> dict[str, Any]:
        text = _visible_text(params.get("text"), params.get("parse_mode"), _TEXT_LIMIT)
        return self._bot_message(params, text=text)

    async def _edit_message_text(self, params: dict[str, Any]) -> dict[str, Any] | bool:
        text = _visible_text(params.get("text"), params.get("parse_mode"), _TEXT_LIMIT)
        return self._edit(params, text=text)

    async def _edit_reply_markup(self, params: dict[str, Any]) -> dict[str, Any] | bool:
        return self._edit(params)

    async def _send_photo(self, params: dict[str, Any]) -> dict[str, Any]:
        file_id, size = self._ingest(params.get("photo"), "photo")
        photo = {"file_id": file_id, "file_unique_id": f"u-{file_id}", "width": 800, "height": 800}
        return self._bot_message(params, photo=[{**photo, "file_size": size}], **_caption(params))

    async def _send_document(self, params: dict[str, Any]) -> dict[str, Any]:
        upload = params.get("document")
        file_id, size = self._ingest(upload, "doc")
        document = {"file_id": file_id, "file_unique_id": f"u-{file_id}", "file_size": size}
        if isinstance(upload, UploadedFile):
            document.update(file_name=upload.filename, mime_type=upload.content_type)
        return self._bot_message(params, document=document, **_caption(params))

    async def _send_poll(self, params: dict[str, Any]) -> dict[str, Any]:
        poll_id = str(next(self._ids))
        options = [o if isinstance(o, str) else o["text"] for o in params.get("options", [])]
        poll: dict[str, Any] = {
            "id": poll_id,
            "question": params.get("question", ""),
            "options": [{"persistent_id": str(i), "text": t, "voter_count": 0} for i, t in enumerate(options)],
            "total_voter_count": 0,
            "is_closed": _flag(params, "is_closed", False),
            "is_anonymous": _flag(params, "is_anonymous", True),
            "type": params.get("type", "regular"),
            "allows_multiple_answers": _flag(params, "allows_multiple_answers", False),
            "allows_revoting": _flag(params, "allows_revoting", params.get("type") != "quiz"),
            "members_only": False,
        }
        poll.update(_correct_options(params))
        poll.update({k: params[k] for k in ("explanation", "open_period") if k in params})
        self._polls[poll_id] = poll
        return self._bot_message(params, poll=poll)

    async def _stop_poll(self, params: dict[str, Any]) -> dict[str, Any]:
        message = self._messages.get((_chat_key(params.get("chat_id")), _int(params, "message_id", 0)))
        if message is None or "poll" not in message:
            raise _ApiError(400, "Bad Request: message with poll to stop not found")
        message["poll"]["is_closed"] = True
        return message["poll"]

    async def _delete_message(self, params: dict[str, Any]) -> bool:
        self._messages.pop((_chat_key(params.get("chat_id")), _int(params, "message_id", 0)), None)
        return True

    async def _get_file(self, params: dict[str, Any]) -> dict[str, Any]:
        file_id = str(params.get("file_id"))
        stored = self._files.get(file_id)
        if stored is None:
            raise _ApiError(400, "Bad Request: invalid file_id")
        return {
            "file_id": file_id,
            "file_unique_id": f"u-{file_id}",
            "file_size": len(stored.content),
            "file_path": stored.file_path,
        }

    async def _set_webhook(self, params: dict[str, Any]) -> bool:
        self._webhook_url = str(params.get("url", ""))
        return True

    async def _delete_webhook(self, params: dict[str, Any]) -> bool:
        self._webhook_url = ""
        if _flag(params, "drop_pending_updates", False):
            self._updates.clear()
        return True

    async def _get_webhook_info(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": self._webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }

    # ----------------------------------------------------------------- message store

    def _bot_message(self, params: dict[str, Any], **content: Any) -> dict[str, Any]:
        chat_key = _chat_key(params.get("chat_id"))
        message = {
            "message_id": self._next_message_id(chat_key),
            "date": int(time.time()),
            "chat": self._chat(chat_key),
            "from": self.bot_user,
            **content,
            **_inline_markup(params),
        }
        return self._remember(message)

    def _edit(self, params: dict[str, Any], **content: Any) -> dict[str, Any] | bool:
        if "inline_message_id" in params:
            return True
        key = (_chat_key(params.get("chat_id")), _int(params, "message_id", 0))
        current = self._messages.get(key) or {
            "message_id": key[1],
            "date": int(time.time()),
            "chat": self._chat(key[0]),
            "from": self.bot_user,
        }
        markup = _inline_markup(params)
        same_content = all(current.get(k) == v for k, v in content.items())
        if same_content and current.get("reply_markup") == markup.get("reply_markup"):
            raise _ApiError(400, _NOT_MODIFIED)
        edited = {k: v for k, v in current.items() if k != "reply_markup"}
        return self._remember({**edited, **content, **markup, "edit_date": int(time.time())})

    def _remember(self, message: dict[str, Any]) -> dict[str, Any]:
        self._messages[(message["chat"]["id"], message["message_id"])] = message
        return message

    def _next_message_id(self, chat_key: ChatKey) -> int:
        self._message_ids[chat_key] += 1
        return self._message_ids[chat_key]

    def _last_bot_message_id(self, chat_id: int) -> int:
        ours = [mid for (cid, mid), m in self._messages.items() if cid == chat_id and m["from"]["is_bot"]]
        return max(ours) if ours else self._next_message_id(chat_id)

    def _chat(self, chat_key: ChatKey) -> dict[str, Any]:
        if chat_key in self._chats:
            return self._chats[chat_key]
        if isinstance(chat_key, str):
            return {"id": chat_key, "type": "channel", "title": chat_key, "username": chat_key.lstrip("@")}
        if chat_key > 0:
            return {"id": chat_key, "type": "private", "first_name": "Test"}
        return {"id": chat_key, "type": "supergroup", "title": "Test group"}

    def _ingest(self, value: Any, kind: str) -> tuple[str, int]:
        """Register an uploaded file (or resolve a file_id); return (file_id, size)."""
        if isinstance(value, UploadedFile):
            file_id = self._new_file_id(kind)
            self.add_file(file_id, value.content, f"{kind}s/{value.filename or file_id}")
            return file_id, value.size
        stored = self._files.get(str(value))
        return str(value), len(stored.content) if stored else 0

    def _new_file_id(self, kind: str) -> str:
        return f"{kind}-{next(self._ids)}"


# --------------------------------------------------------------------- request parsing


async def _read_params(request: web.Request) -> dict[str, Any]:
    if request.content_type == "application/json":
        return dict(await request.json())
    params: dict[str, Any] = {name: _decode(name, value) for name, value in request.query.items()}
    uploads: dict[str, UploadedFile] = {}
    for name, value in (await request.post()).items():
        if isinstance(value, web.FileField):
            content = value.file.read()
            uploads[name] = UploadedFile(value.filename, value.content_type, len(content), content)
        else:
            params[name] = _decode(name, str(value))
    for name, value in list(params.items()):
        if isinstance(value, str) and value.startswith("attach://"):
            params[name] = uploads.pop(value.removeprefix("attach://"), value)
    return {**params, **uploads}


def _decode(name: str, value: str) -> Any:
    """JSON-decode serialized objects/arrays (reply_markup, options, ...); keep scalars as str."""
    if name in _FREE_TEXT_PARAMS or not value.startswith(("{", "[")):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _chat_key(value: Any) -> ChatKey:
    try:
        return int(value)
    except (TypeError, ValueError):
        return str(value)


def _int(params: dict[str, Any], key: str, default: int) -> int:
    value = params.get(key)
    return default if value is None else int(value)


def _float(params: dict[str, Any], key: str) -> float:
    value = params.get(key)
    return 0.0 if value is None else float(value)


def _flag(params: dict[str, Any], key: str, default: bool) -> bool:
    value = params.get(key)
    return default if value is None else str(value).lower() == "true"


# --------------------------------------------------------------------- Telegram semantics


def _visible_text(text: Any, parse_mode: Any, limit: int) -> str:
    """Validate text like Telegram does and return what the user would see."""
    if not text:
        raise _ApiError(400, "Bad Request: message text is empty")
    visible = _parse_html(str(text)) if str(parse_mode).lower() == "html" else str(text)
    if len(visible.encode("utf-16-le")) // 2 > limit:
        raise _ApiError(400, "Bad Request: message is too long")
    return visible


def _parse_html(text: str) -> str:
    """Check Telegram-HTML tag structure; return the text with tags stripped and unescaped."""
    out, stack, pos = [], [], 0
    while (start := text.find("<", pos)) != -1:
        out.append(text[pos:start])
        offset = len(text[:start].encode())
        match = _TAG_RE.match(text, start)
        name = match.group(2).lower() if match else ""
        if match is None or name not in _HTML_TAGS:
            raise _cant_parse(f'Unsupported start tag "{name}" at byte offset {offset}')
        if match.group(1) and (not stack or stack.pop() != name):
            raise _cant_parse(f'Unexpected end tag at byte offset {offset}')
        if not match.group(1):
            stack.append(name)
        pos = match.end()
    if stack:
        raise _cant_parse(f'Can\'t find end tag corresponding to start tag "{stack[-1]}"')
    return html.unescape("".join(out) + text[pos:])


def _cant_parse(detail: str) -> _ApiError:
    return _ApiError(400, f"Bad Request: can't parse entities: {detail}")


def _caption(params: dict[str, Any]) -> dict[str, str]:
    if not params.get("caption"):
        return {}
    return {"caption": _visible_text(params["caption"], params.get("parse_mode"), _CAPTION_LIMIT)}


def _inline_markup(params: dict[str, Any]) -> dict[str, Any]:
    """Messages only carry inline keyboards; reply keyboards are not echoed back."""
    markup = params.get("reply_markup")
    return {"reply_markup": markup} if isinstance(markup, dict) and "inline_keyboard" in markup else {}


def _correct_options(params: dict[str, Any]) -> dict[str, Any]:
    ids = params.get("correct_option_ids")
    if ids is None and params.get("correct_option_id") is not None:
        ids = [int(params["correct_option_id"])]
    return {} if ids is None else {"correct_option_ids": ids, "correct_option_id": ids[0]}


def _command_entities(text: str) -> dict[str, Any]:
    if not text.startswith("/"):
        return {}
    command = text.split(maxsplit=1)[0]
    return {"entities": [{"type": "bot_command", "offset": 0, "length": len(command)}]}


def _update_type(update: dict[str, Any]) -> str:
    return next(k for k in update if k != "update_id")


def _user(user_id: int, first_name: str, language_code: str) -> dict[str, Any]:
    return {"id": user_id, "is_bot": False, "first_name": first_name, "language_code": language_code}
