"""Fitting reply text into Telegram messages: `split_message` cuts Telegram-HTML into parts that
Telegram accepts one by one, `truncate_plain` shortens a plain-text preview.

Lengths are measured the way Telegram counts them: UTF-16 code units of the *visible* text, i.e.
after tags are removed and entities such as ``&amp;`` are decoded. Each part keeps its visible
length <= ``limit`` and, to stay conservative about request sizes, its raw HTML length (also in
UTF-16 units, including the tags closed and reopened at the cuts) <= ``raw_limit`` (default
``2 * limit``).

Cuts are chosen, in order of preference, at a paragraph break (a blank line), a line break, a
sentence end (``. ! ? … ; ؟ ؛``, even behind closing quotes), a plain space, and only as a last
resort anywhere between two grapheme clusters (a single huge word, or no legal space in reach).
A cut that would leave a part under a quarter of the limit loses to any other cut further on.
A cut never falls inside a tag, an entity, or a grapheme cluster (a letter and its combining
marks such as Arabic harakat, an emoji with its modifiers and ZWJ sequence, a flag), and never at
a space that French typography binds to its neighbour (before ``» ? ! ; : %``, after ``«``).
Non-breaking spaces are never cut at. The whitespace at a cut is dropped, inside ``<pre>`` too.
Tags open at a cut are closed at the end of one part and reopened, attributes included, at the
start of the next, so each part is valid HTML on its own.
"""
from __future__ import annotations

import functools
import html
import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Literal

TELEGRAM_LIMIT = 4096

_TAG_RE = re.compile(r"<(/?)([A-Za-z][\w-]*)(?:\s[^<>]*)?>")
_ENTITY_RE = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
_BREAKING_SPACE = frozenset(" \t\n\r")
_SENTENCE_END = frozenset(".!?…;؟؛۔")
_CLOSERS = "»”’\"')]} \u00a0\u202f"  # may follow a sentence end
_BOUND_TO_PREVIOUS = frozenset("»?!;:%…؟؛")
_BOUND_TO_NEXT = frozenset("«")
_ZWJ = "\u200d"
_MAX_CLUSTER = 64  # code points; longer clusters are cut like separate characters

Kind = Literal["text", "open", "close"]


class Priority(IntEnum):
    """How good a cut is; higher wins."""

    ANYWHERE = 0
    SPACE = 1
    SENTENCE = 2
    LINE = 3
    PARAGRAPH = 4


@dataclass(frozen=True)
class _Unit:
    """One indivisible piece of the input: a tag, an entity or a grapheme cluster."""

    raw: str
    kind: Kind
    width: int  # visible UTF-16 units
    name: str = ""

    @property
    def is_space(self) -> bool:
        return self.kind == "text" and self.raw != "" and all(c in _BREAKING_SPACE for c in self.raw)

    @property
    def closer(self) -> str:
        return f"</{self.name}>"


@dataclass(frozen=True)
class _Cut:
    end: int  # the part ends before units[end]
    resume: int  # the next part starts at units[resume]
    priority: Priority


def utf16_len(text: str) -> int:
    """Length as Telegram counts it: UTF-16 code units."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def visible_text(html_text: str) -> str:
    """What Telegram shows for a parse_mode=HTML text: tags removed, entities decoded."""
    return html.unescape(_TAG_RE.sub("", html_text))


def graphemes(text: str) -> Iterator[str]:
    """Grapheme clusters, simplified: a base character with its combining marks, variation
    selectors, emoji modifiers and tags, ZWJ sequences, regional-indicator pairs and CRLF."""
    i, n = 0, len(text)
    while i < n:
        j = i + 1
        if text[i] == "\r" and j < n and text[j] == "\n" or _is_regional(text[i]) and j < n and _is_regional(text[j]):
            j += 1
        while j < n and (_extends(text[j]) or (text[j - 1] == _ZWJ and text[j] not in _BREAKING_SPACE)):
            j += 1
        yield text[i:j]
        i = j


def truncate_plain(text: str, limit: int = TELEGRAM_LIMIT, ellipsis: str = "…") -> str:
    """``text`` if it fits in ``limit`` UTF-16 units, else its head plus ``ellipsis`` within it.

    Cheap on a growing text: only the head is looked at, and the cut of a given head is cached.
    """
    if len(text) * 2 <= limit or utf16_len(text) <= limit:
        return text
    return _head(text[:limit + _MAX_CLUSTER], limit, ellipsis)


@functools.lru_cache(maxsize=64)
def _head(text: str, limit: int, ellipsis: str) -> str:
    budget, kept = limit - utf16_len(ellipsis), []
    for cluster in graphemes(text):
        budget -= utf16_len(cluster)
        if budget < 0:
            break
        kept.append(cluster)
    return "".join(kept).rstrip() + ellipsis


def split_message(text: str, limit: int = TELEGRAM_LIMIT, *, raw_limit: int | None = None) -> list[str]:
    """Cut a parse_mode=HTML text into non-empty, self-contained parts Telegram accepts.

    Returns ``[]`` for a text with no visible content; ``[text]`` unchanged when it fits.
    """
    if limit < 1:
        raise ValueError("limit must be positive")
    raw_limit = 2 * limit if raw_limit is None else raw_limit
    if not visible_text(text).strip():
        return []
    if utf16_len(visible_text(text)) <= limit and utf16_len(text) <= raw_limit:
        return [text]
    units = _tokenize(text)
    return _Splitter(units, limit, raw_limit).parts()


# --------------------------------------------------------------------- tokenizing


def _tokenize(text: str) -> list[_Unit]:
    units: list[_Unit] = []
    pos = 0
    for match in re.finditer(r"<[^<>]*>|&[^&;\s]{1,40};", text):
        unit = _markup_unit(match.group())
        if unit is None:
            continue
        units.extend(_text_units(text[pos:match.start()]))
        units.append(unit)
        pos = match.end()
    units.extend(_text_units(text[pos:]))
    return units


def _markup_unit(raw: str) -> _Unit | None:
    if tag := _TAG_RE.fullmatch(raw):
        return _Unit(raw, "close" if tag.group(1) else "open", 0, tag.group(2).lower())
    if _ENTITY_RE.fullmatch(raw):
        return _Unit(raw, "text", utf16_len(html.unescape(raw)))
    return None


def _text_units(text: str) -> Iterator[_Unit]:
    for cluster in graphemes(text):
        yield _Unit(cluster, "text", utf16_len(cluster))


def _is_regional(char: str) -> bool:
    return 0x1F1E6 <= ord(char) <= 0x1F1FF


def _extends(char: str) -> bool:
    code = ord(char)
    return (unicodedata.category(char) in ("Mn", "Me", "Mc") or char in ("\u200c", _ZWJ)
            or 0x1F3FB <= code <= 0x1F3FF or 0xE0020 <= code <= 0xE007F)


# --------------------------------------------------------------------- cutting


class _Splitter:
    """Walks the units once, emitting one part per cut."""

    def __init__(self, units: Sequence[_Unit], limit: int, raw_limit: int) -> None:
        self.units, self.limit, self.raw_limit = units, limit, raw_limit
        self.cuts = _cut_candidates(units)
        self.widths = [0]
        for unit in units:
            self.widths.append(self.widths[-1] + unit.width)

    def parts(self) -> list[str]:
        parts: list[str] = []
        start, stack = self._skip(0, [])
        while (first := self._first_visible(start)) is not None:
            cut = self._choose(start, first, stack)
            body = list(self.units[start:cut.end])
            after = _apply(stack, body)
            dangling = _trailing_opens(body)
            kept = len(after) - dangling
            parts.append(_render(stack) + _render(body[:len(body) - dangling]) + _close(after[:kept]))
            start, stack = self._skip(cut.resume, after)
        return parts

    def _choose(self, start: int, first: int, stack: list[_Unit]) -> _Cut:
        fits = max(self._fitting_end(start, stack), first + 1)
        if fits >= len(self.units):
            return _Cut(len(self.units), len(self.units), Priority.PARAGRAPH)
        options = [cut for end, cut in self.cuts.items() if first < end <= fits]
        if not options:
            return _Cut(fits, fits, Priority.ANYWHERE)
        floor = self.limit // 4
        return max(options, key=lambda c: (self.widths[c.end] - self.widths[start] >= floor, c.priority, c.end))

    def _fitting_end(self, start: int, stack: list[_Unit]) -> int:
        """The largest end such that units[start:end] fits both limits (monotonic in end)."""
        width, raw = 0, sum(utf16_len(u.raw) + len(u.closer) for u in stack)
        for i in range(start, len(self.units)):
            unit = self.units[i]
            width += unit.width
            raw += utf16_len(unit.raw) + (len(unit.closer) if unit.kind == "open" else 0)
            if unit.kind == "close":
                raw -= len(unit.closer)
            if width > self.limit or raw > self.raw_limit:
                return i
        return len(self.units)

    def _first_visible(self, start: int) -> int | None:
        for i in range(start, len(self.units)):
            if self.units[i].kind == "text" and not self.units[i].is_space:
                return i
        return None

    def _skip(self, start: int, stack: list[_Unit]) -> tuple[int, list[_Unit]]:
        """Drop whitespace, and closing tags of tags just reopened, at the start of a part."""
        stack = list(stack)
        while start < len(self.units):
            unit = self.units[start]
            if unit.is_space:
                start += 1
            elif unit.kind == "close" and stack and stack[-1].name == unit.name:
                stack.pop()
                start += 1
            else:
                break
        return start, stack


def _cut_candidates(units: Sequence[_Unit]) -> dict[int, _Cut]:
    """Every whitespace run that may be cut at, keyed by where the part would end."""
    cuts: dict[int, _Cut] = {}
    i = 0
    while i < len(units):
        if not units[i].is_space:
            i += 1
            continue
        end = i
        while end < len(units) and units[end].is_space:
            end += 1
        priority = _run_priority(units, i, end)
        if priority is not None and i > 0:
            cuts[i] = _Cut(i, end, priority)
        i = end
    return cuts


def _run_priority(units: Sequence[_Unit], start: int, end: int) -> Priority | None:
    newlines = sum(u.raw.count("\n") for u in units[start:end])
    if newlines >= 2:
        return Priority.PARAGRAPH
    if newlines == 1:
        return Priority.LINE
    before, after = _visible_before(units, start), _visible_after(units, end)
    if after[:1] in _BOUND_TO_PREVIOUS or before[-1:] in _BOUND_TO_NEXT:
        return None
    if before.rstrip(_CLOSERS)[-1:] in _SENTENCE_END:
        return Priority.SENTENCE
    return Priority.SPACE


def _visible_before(units: Sequence[_Unit], index: int, span: int = 8) -> str:
    texts = [u.raw for u in units[max(0, index - span):index] if u.kind == "text"]
    return html.unescape("".join(texts))


def _visible_after(units: Sequence[_Unit], index: int, span: int = 4) -> str:
    texts = [u.raw for u in units[index:index + span] if u.kind == "text"]
    return html.unescape("".join(texts))


# --------------------------------------------------------------------- rendering


def _apply(stack: list[_Unit], body: Sequence[_Unit]) -> list[_Unit]:
    """The tags still open after ``body``; a stray closing tag pops down to its match, if any."""
    stack = list(stack)
    for unit in body:
        if unit.kind == "open":
            stack.append(unit)
        elif unit.kind == "close":
            names = [u.name for u in stack]
            if unit.name in names:
                del stack[len(names) - 1 - names[::-1].index(unit.name):]
    return stack


def _trailing_opens(body: Sequence[_Unit]) -> int:
    """Opening tags at the very end of a part: they move to the next part instead."""
    count = 0
    for unit in reversed(body):
        if unit.kind != "open":
            break
        count += 1
    return count


def _render(units: Sequence[_Unit]) -> str:
    return "".join(u.raw for u in units)


def _close(stack: Sequence[_Unit]) -> str:
    return "".join(u.closer for u in reversed(stack))
