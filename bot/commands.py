"""The bot's command table: every command once, with the feature (router) that handles it, whether it
is for admins, and the arguments it takes.

From it come each router's command registrations (`register`: a command of the table without a
handler, or a handler for a command the table lacks, stops the bot at start), the one refusal of
admin commands to everyone else (`refusals`), the command menus Telegram shows (learners' for all,
admins' in each admin's chat) and /help in three languages (`help_text`). Descriptions are the
`cmd_<name>` entries of `bot.texts`, whose completeness a test checks.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import Message

from bot.filters import IsAdmin
from bot.texts import Translator


@dataclass(frozen=True)
class BotCommand:
    name: str
    feature: str
    args: str = ""  # as /help shows them, e.g. "<user> <amount>"
    admin: bool = False


COMMANDS: tuple[BotCommand, ...] = (
    BotCommand("start", "start"),
    BotCommand("help", "start"),
    BotCommand("language", "language", "[ar|fr|en]"),
    BotCommand("quiz", "quiz", "<topic> [n]"),
    BotCommand("score", "quiz"),
    BotCommand("new", "chat"),
    BotCommand("search", "search", "<question>"),
    BotCommand("balance", "wallet"),
    BotCommand("history", "wallet"),
    BotCommand("asked", "asked"),
    BotCommand("topup", "admin", "<user> <amount>", admin=True),
    BotCommand("tier", "admin", "<user> <free|standard|premium>", admin=True),
    BotCommand("token", "admin", "<user>", admin=True),
    BotCommand("users", "admin", admin=True),
    BotCommand("role", "admin", "<user> <learner|teacher|admin>", admin=True),
    BotCommand("stats", "admin", admin=True),
    BotCommand("ingest", "ingestion", "<URL>", admin=True),
    BotCommand("jobs", "ingestion", admin=True),
    BotCommand("reindex", "reindex", admin=True),
    BotCommand("sources", "sources", admin=True),
    BotCommand("source_add", "sources", "<name> <URL> [depth=N] [budget=N] [every=MIN] [lang=ar|fr|en]", admin=True),
    BotCommand("sync", "sources", "<source>", admin=True),
    BotCommand("source_pause", "sources", "<source>", admin=True),
    BotCommand("source_resume", "sources", "<source>", admin=True),
)
LEARNER = tuple(c for c in COMMANDS if not c.admin)
ADMIN = tuple(c for c in COMMANDS if c.admin)


def register(router: Router, handlers: Mapping[str, Callable[..., Any]]) -> Router:
    """Register the handlers of the router's feature (the router's name) for their commands."""
    table = {c.name for c in COMMANDS if c.feature == router.name}
    if table != set(handlers):
        raise ValueError(f"router {router.name!r}: the command table has {sorted(table)}, "
                         f"the handlers are for {sorted(handlers)}")
    for name, handler in handlers.items():
        router.message.register(handler, Command(name))
    return router


def admin_router(name: str) -> Router:
    """A router for admins only, filtered once; everyone else falls through to `refusals`."""
    router = Router(name=name)
    router.message.filter(IsAdmin())
    return router


async def refuse_admin_command(message: Message, t: Translator) -> None:
    await message.answer(t("admin_only"))


async def refuse_file(message: Message, t: Translator) -> None:
    await message.answer(t("ingest_admin_only"))


def refusals() -> Router:
    """What non-admins get for an admin command or a document (placed after every admin router)."""
    router = Router(name="refusals")
    router.message.register(refuse_admin_command, Command(*(c.name for c in ADMIN)))
    router.message.register(refuse_file, F.document)
    return router


def help_text(t: Translator, *, admin: bool) -> str:
    """/help: the learner's commands, and for an admin the admin commands after them."""
    lines = [t.plain("help_header"), *(_line(t, c) for c in LEARNER), t.plain("help_footer")]
    if admin:
        lines += ["", t.plain("help_admin_header"), *(_line(t, c) for c in ADMIN), t.plain("help_admin_footer")]
    return "\n".join(lines)


def _line(t: Translator, command: BotCommand) -> str:
    return " ".join(filter(None, (f"/{command.name}", command.args, "—", t.plain(f"cmd_{command.name}"))))
