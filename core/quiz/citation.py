"""How a quiz cites its passage: a short label such as "Cours de SVT, p. 3" or "fr.wikipedia.org".

The label is the document title with the page (Arabic "ص. 3" when the passage or the quiz is
in Arabic, as the bot's search results show it), else the title with the URL's host, else the
host or the source's file name, shortened to at most `MAX_LABEL` characters. The explanation
of every question ends with it in brackets, so a learner can always see where an answer comes
from.
"""
from __future__ import annotations

from pathlib import PurePosixPath
from urllib.parse import urlsplit

import regex

from core.quiz.model import Passage
from core.quiz.telegram_limits import shorten

MAX_LABEL = 60
_SPACE = regex.compile(r"\s+")
_PAGE = {"ar": "ص. {page}"}
_DEFAULT_PAGE = "p. {page}"
_SEPARATOR = {"ar": "، "}
_MAX_LOCATOR = 30


def url_host(url: str | None) -> str:
    """The host of an http(s) URL without "www." ("" when there is none)."""
    if not url:
        return ""
    host = urlsplit(url).hostname or ""
    return host.removeprefix("www.")


def _source_name(source: str) -> str:
    return PurePosixPath(source.replace("\\", "/")).name if source else ""


def _locator(passage: Passage, language: str) -> str:
    page = passage.get("page")
    if page is not None:
        return _PAGE.get(language, _DEFAULT_PAGE).format(page=page)
    return shorten(url_host(passage.get("url")), _MAX_LOCATOR)


def citation_label(passage: Passage, language: str | None = None) -> str:
    """"Title, p. 3" / "Title, host" / "host" / source file name / chunk id; ≤ MAX_LABEL chars."""
    language = language or passage.get("language") or ""
    title = _SPACE.sub(" ", passage.get("title") or "").strip()
    locator = _locator(passage, language)
    if not title:
        title = _source_name(passage.get("source") or "") if not locator else ""
    if not title:
        return shorten(locator or passage["chunk_id"], MAX_LABEL)
    if not locator:
        return shorten(title, MAX_LABEL)
    suffix = _SEPARATOR.get(language, ", ") + locator
    return shorten(title, MAX_LABEL - len(suffix)) + suffix
