"""/search <question>: the passages of the course material that answer it, with their sources.

The question goes to the Retriever deployment through its handle (the same pipeline as
`POST /retrieve`), with the learner's tier; results are short excerpts with title and page or URL,
kept well under Telegram's 4,096 characters.
"""
from __future__ import annotations

from aiogram import Router
from aiogram.filters import CommandObject
from aiogram.types import Message
from aiogram.utils.formatting import Bold, Text, TextLink
from loguru import logger

from actors.clients.retrieval import Retrieval, RetrievalUnavailable
from bot.commands import register
from bot.texts import Translator
from core.ledger.tiers import tier as tier_named
from core.retrieval.query import QueryError
from core.user import User

EXCERPT_CHARS = 400


def excerpt(text: str) -> str:
    return text if len(text) <= EXCERPT_CHARS else text[:EXCERPT_CHARS].rsplit(" ", 1)[0] + " …"


def render(t: Translator, hits: list[dict]) -> str:
    blocks = [t("search_header")]
    for number, hit in enumerate(hits, start=1):
        where = f", {t.plain('search_page', page=hit['page'])}" if hit.get("page") else ""
        source = Text(" — ", TextLink(hit["url"], url=hit["url"])) if hit.get("url") else Text()
        blocks.append(Text(Bold(f"{number}. {hit['title']}"), where, source, "\n", excerpt(hit["text"])).as_html())
    return "\n\n".join(blocks)


async def search(message: Message, command: CommandObject, user: User, retrieval: Retrieval, t: Translator) -> None:
    question = (command.args or "").strip()
    if not question:
        await message.answer(t("search_usage"))
        return
    try:
        hits = await retrieval.search(question, min(5, tier_named(user.tier).retrieval_k), user.tier)
    except QueryError:
        await message.answer(t("search_bad_query"))
        return
    except RetrievalUnavailable as exc:
        logger.warning("retrieval unavailable", error=str(exc))
        await message.answer(t("search_unavailable"))
        return
    await message.answer(render(t, hits) if hits else t("search_none"),
                         disable_web_page_preview=True)


def make_router() -> Router:
    return register(Router(name="search"), {"search": search})
