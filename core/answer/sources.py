"""Numbered sources of an answer: owns how retrieved passages become [n] citations, how the
numbers an answer cites are read back, and the Telegram-HTML footer listing the cited sources.

Numbers are 1-based, in retrieval order, one per distinct chunk (a chunk repeated in the hits keeps
its first number), so the prompt, the extractive answer and the footer all agree on what [n] is.
Citations are read in every form models write them: [1], [1, 3], [1][2], [1-3], with ASCII,
Arabic-Indic (١) or Persian (۱) digits and an Arabic comma (،) between numbers; a bracketed
number of four digits or more ([2019]) is a year or a reference, not a citation. Old answers
replayed to the model lose their marks (`strip_citations`): their numbers named other passages.
"""
from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import regex

Passage = Mapping[str, Any]

_NUMBER = r"\d{1,3}(?:\s*[-–]\s*\d{1,3})?"
_CITATION = regex.compile(rf"\[\s*({_NUMBER}(?:\s*[,،;]\s*{_NUMBER})*)\s*\]")
_RANGE_MAX = 20  # [1-300] is not a citation range anyone means

_HEADING = {"ar": "المصادر", "fr": "Sources", "en": "Sources"}
_PAGE = {"ar": "، ص {}", "fr": ", p. {}", "en": ", p. {}"}


@dataclass(frozen=True)
class Source:
    number: int
    chunk_id: str
    title: str
    page: int | None
    url: str | None


def distinct_passages(passages: Iterable[Passage]) -> list[Passage]:
    """The passages in retrieval order, each chunk once: the n-th one is source [n]."""
    seen: set[str] = set()
    kept = []
    for passage in passages:
        chunk_id = str(passage["chunk_id"])
        if chunk_id not in seen:
            seen.add(chunk_id)
            kept.append(passage)
    return kept


def passage_title(passage: Passage) -> str:
    """What a passage is called in prompts and footers: its title, else its source, else its id."""
    return str(passage.get("title") or passage.get("source") or passage["chunk_id"]).strip()


def number_sources(passages: Iterable[Passage]) -> list[Source]:
    """One `Source` per distinct chunk, numbered from 1 in retrieval order."""
    return [Source(number=n, chunk_id=str(p["chunk_id"]), title=passage_title(p), page=p.get("page"),
                   url=p.get("url") or None)
            for n, p in enumerate(distinct_passages(passages), start=1)]


def _numbers(group: str) -> list[int]:
    found: list[int] = []
    for part in regex.split(r"\s*[,،;]\s*", group.strip()):
        ends = [int(x) for x in regex.split(r"\s*[-–]\s*", part)]
        if len(ends) == 2 and 0 <= ends[1] - ends[0] <= _RANGE_MAX:
            found.extend(range(ends[0], ends[1] + 1))
        else:
            found.extend(ends)
    return found


def cited_numbers(answer: str, count: int | None = None) -> list[int]:
    """The distinct source numbers cited in `answer`, in order of first citation. Numbers below 1,
    and above `count` when it is given (the number of sources), are not citations and are ignored."""
    cited: list[int] = []
    for match in _CITATION.finditer(answer):
        for number in _numbers(match.group(1)):
            if number >= 1 and (count is None or number <= count) and number not in cited:
                cited.append(number)
    return cited


def keep_given_citations(text: str, count: int) -> str:
    """`text` with citation numbers outside 1..count removed (a mark left empty goes entirely), for
    an answer that cited a passage it was not given."""
    def rewrite(match: regex.Match[str]) -> str:
        kept = [n for n in dict.fromkeys(_numbers(match.group(1))) if 1 <= n <= count]
        return "".join(f"[{n}]" for n in kept)

    cleaned = regex.sub(r"[ \t]{2,}", " ", _CITATION.sub(rewrite, text))
    return regex.sub(r"[ \t]+([.,;:!?،؛])", r"\1", cleaned).strip()


def strip_citations(text: str) -> str:
    """`text` without its [n] citation marks (for replaying an old answer whose numbers are stale)."""
    return regex.sub(r"[ \t]*" + _CITATION.pattern, "", text)


def _label(language: str) -> str:
    return language if language in _HEADING else ("ar" if language.startswith(("ar", "ha", "mey")) else "en")


def _line(source: Source, language: str) -> str:
    title = html.escape(source.title, quote=False)
    url = source.url or ""
    entry = (f'<a href="{html.escape(url, quote=True)}">{title}</a>' if url.startswith(("http://", "https://"))
             else f"<b>{title}</b>")
    page = _PAGE[language].format(source.page) if source.page is not None else ""
    return f"[{source.number}] {entry}{page}"


def render_sources(sources: Sequence[Source], cited: Iterable[int], language: str) -> str:
    """Telegram-HTML footer listing the cited sources only, by number; "" when none is cited.
    Titles and URLs are HTML-escaped; only http(s) URLs become links."""
    wanted = set(cited)
    lines = [_line(s, _label(language)) for s in sorted(sources, key=lambda s: s.number) if s.number in wanted]
    if not lines:
        return ""
    return "\n".join([f"<b>{_HEADING[_label(language)]}</b>", *lines])
