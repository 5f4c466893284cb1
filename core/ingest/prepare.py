"""From extracted text to the rows ingestion writes: the document's profile and its chunks.

`profile` runs the text checks on a whole document (language, Hassaniya, quality, SimHash) and
raises `Rejected` with a reason code and message when the document is not worth indexing.
`cut` chunks the original text (offsets into it, so citations show what the author wrote), page
by page when pages are known, and gives each chunk its matching form, language, page and SimHash. Chunks whose matching form
repeats an earlier chunk of the same document (a footer on every page) are dropped.
"""
from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass

from core.text.arabic import normalise_for_matching
from core.text.chunking import CHUNKER_VERSION, ChunkSettings, chunk_id, chunk_text
from core.text.language import detect, is_hassaniya, preload
from core.text.quality import assess
from core.text.simhash import simhash, to_signed
from core.text.tokens import encoding


class Rejected(Exception):
    """The document fails a check; `reason` is a stable code, the message says why in English."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason

    def __reduce__(self) -> tuple[type, tuple[str, str]]:
        return (Rejected, (self.reason, str(self)))


@dataclass(frozen=True)
class Profile:
    language: str
    is_hassaniya: bool
    simhash: int  # signed, as stored in BIGINT


@dataclass(frozen=True)
class PreparedChunk:
    id: str
    ordinal: int
    text: str
    normalized_text: str
    language: str
    token_count: int
    page: int | None
    char_start: int
    char_end: int
    simhash: int

    def to_json(self) -> dict[str, object]:
        return asdict(self)


def load_models(settings: ChunkSettings) -> None:
    """Loads the language model and the tokenizer now (each takes about a second of CPU) rather than
    inside the first jobs."""
    preload()
    encoding(settings.encoding)


def content_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def chunking_signature(settings: ChunkSettings) -> str:
    """What a document was cut with: a change means its chunks must be cut again."""
    return f"v{CHUNKER_VERSION}:{settings.encoding}:{settings.size}:{settings.overlap}"


def profile(text: str) -> Profile:
    """The document's language, Hassaniya flag and fingerprint; Rejected if its quality is too low."""
    language = detect(text)
    verdict = assess(text, language)
    if not verdict.ok:
        raise Rejected(verdict.reason or "quality", verdict.message or "the text failed a quality check")
    return Profile(language, language == "ar" and is_hassaniya(text), to_signed(simhash(text)))


def cut(text: str, doc_key: str, settings: ChunkSettings, page_starts: list[int], language: str) -> list[PreparedChunk]:
    """The document's chunks in order, each with its page (1-based, when pages are known).
    A chunk never spans two pages, so a citation's page is exact."""
    chunks: list[PreparedChunk] = []
    seen: set[str] = set()
    for page, start, end in _spans(len(text), page_starts):
        for piece in chunk_text(text[start:end], doc_key, settings):
            matching = normalise_for_matching(piece.text)
            if matching in seen:
                continue
            seen.add(matching)
            ordinal = len(chunks)
            chunks.append(PreparedChunk(chunk_id(doc_key, settings, ordinal, piece.text), ordinal, piece.text,
                                        matching, detect(piece.text, fallback=language), piece.n_tokens, page,
                                        start + piece.char_start, start + piece.char_end,
                                        to_signed(simhash(piece.text))))
    return chunks


def _spans(length: int, page_starts: list[int]) -> list[tuple[int | None, int, int]]:
    """(page, start, end) of each page, or the whole text as one span without a page."""
    if not page_starts:
        return [(None, 0, length)]
    ends = [*page_starts[1:], length]
    return [(number, start, end) for number, (start, end) in enumerate(zip(page_starts, ends), start=1)]
