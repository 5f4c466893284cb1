"""Token-bounded chunks of a document with exact offsets into the original text and stable ids.

Pieces ("atoms") are sentences: a cut falls after . ! ? … : ; and Arabic ؟ ، ؛ when followed by
a space or the end, after a line break, around French quotes (after », before «). A sentence
longer than `size` tokens is cut between words (whitespace), never inside a word, so Arabic
words with their clitics stay whole; only a single "word" longer than `size` tokens (a URL, a
base64 run) is cut between characters. Cuts are made on `str` indices, so a UTF-8 sequence is
never split. Atoms are packed greedily up to `size` tokens (counted exactly on the chunk text);
the next chunk starts with the last whole atoms of the previous one that fit in `overlap` tokens
(none when they would leave no room for a new atom).
Chunk text is trimmed of surrounding whitespace and `text[char_start:char_end] == chunk.text`.

Ids are the first 32 hex digits of sha256 over the document key, the settings, the chunker
version, the ordinal and the chunk text: the same input and settings give the same ids, and any
change of settings or algorithm gives new ones. The sentence rules are a short regex rather than
a segmenter library because none of the offline ones (pysbd, blingfire) cuts at Arabic ، ؛ or
keeps exact offsets for all three languages.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import regex

from core.text.tokens import DEFAULT_ENCODING, count_tokens

CHUNKER_VERSION = "1"

_SENTENCE_END = regex.compile(r"[.!?…:;؟،؛»]+[\"'”’)\]]*(?=\s|$)|\n")
_QUOTE_OPEN = regex.compile(r"(?<=\s)«")
_WORD = regex.compile(r"\S+\s*")


@dataclass(frozen=True, slots=True)
class ChunkSettings:
    """`size`: most tokens per chunk; `overlap`: most tokens repeated from the previous chunk."""

    size: int = 256
    overlap: int = 32
    encoding: str = DEFAULT_ENCODING

    def __post_init__(self) -> None:
        if self.size < 1:
            raise ValueError("chunk size must be at least 1 token")
        if not 0 <= self.overlap < self.size:
            raise ValueError("chunk overlap must be at least 0 and less than the size")


@dataclass(frozen=True, slots=True)
class Chunk:
    id: str
    ordinal: int
    text: str
    char_start: int
    char_end: int
    n_tokens: int


@dataclass(frozen=True, slots=True)
class _Atom:
    start: int
    end: int
    n_tokens: int


def _trimmed(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _sentence_spans(text: str) -> list[tuple[int, int]]:
    cuts = {m.end() for m in _SENTENCE_END.finditer(text)} | {m.start() for m in _QUOTE_OPEN.finditer(text)}
    bounds = [0, *sorted(c for c in cuts if 0 < c < len(text)), len(text)]
    return [(a, b) for a, b in zip(bounds, bounds[1:])]


def _char_pieces(text: str, start: int, end: int, settings: ChunkSettings) -> list[_Atom]:
    pieces = []
    while start < end:
        low, high = start + 1, end  # largest prefix end with at most `size` tokens
        while low < high:
            mid = (low + high + 1) // 2
            if count_tokens(text[start:mid], settings.encoding) <= settings.size:
                low = mid
            else:
                high = mid - 1
        pieces.append(_Atom(start, low, count_tokens(text[start:low], settings.encoding)))
        start = low
    return pieces


def _atoms(text: str, settings: ChunkSettings) -> list[_Atom]:
    atoms: list[_Atom] = []
    for span_start, span_end in _sentence_spans(text):
        start, end = _trimmed(text, span_start, span_end)
        if start == end:
            continue
        n_tokens = count_tokens(text[start:end], settings.encoding)
        if n_tokens <= settings.size:
            atoms.append(_Atom(start, end, n_tokens))
            continue
        for word in _WORD.finditer(text, start, end):
            w_start, w_end = _trimmed(text, word.start(), word.end())
            w_tokens = count_tokens(text[w_start:w_end], settings.encoding)
            if w_tokens <= settings.size:
                atoms.append(_Atom(w_start, w_end, w_tokens))
            else:
                atoms.extend(_char_pieces(text, w_start, w_end, settings))
    return atoms


def chunk_id(doc_key: str, settings: ChunkSettings, ordinal: int, text: str) -> str:
    """Stable id of one chunk: sha256 of key, settings, version, ordinal and text (32 hex)."""
    material = "\x1f".join([doc_key, settings.encoding, str(settings.size), str(settings.overlap),
                            CHUNKER_VERSION, str(ordinal), text])
    return hashlib.sha256(material.encode("utf-8")).hexdigest()[:32]


def _pack_end(text: str, atoms: list[_Atom], first: int, settings: ChunkSettings) -> tuple[int, int]:
    """Index past the last atom of the chunk starting at `first`, and its exact token count."""
    last, total = first, 0
    while last < len(atoms) and total + atoms[last].n_tokens <= settings.size:
        total += atoms[last].n_tokens
        last += 1
    while True:  # joining atoms can add tokens (line breaks between them): shrink until exact fits
        n_tokens = count_tokens(text[atoms[first].start:atoms[last - 1].end], settings.encoding)
        if n_tokens <= settings.size or last == first + 1:
            return last, n_tokens
        last -= 1


def _next_first(atoms: list[_Atom], first: int, end: int, overlap: int) -> int:
    start, carried = end, 0
    while start - 1 > first and carried + atoms[start - 1].n_tokens <= overlap:
        start -= 1
        carried += atoms[start].n_tokens
    return start


def chunk_text(text: str, doc_key: str, settings: ChunkSettings = ChunkSettings()) -> list[Chunk]:
    """Split `text` into chunks of at most `settings.size` tokens, in order."""
    atoms = _atoms(text, settings)
    chunks: list[Chunk] = []
    first = previous_end = 0
    while first < len(atoms):
        end, n_tokens = _pack_end(text, atoms, first, settings)
        if end <= previous_end:  # only the overlap fits beside the next atom: drop the overlap
            first = previous_end
            continue
        start_char, end_char = atoms[first].start, atoms[end - 1].end
        body = text[start_char:end_char]
        ordinal = len(chunks)
        chunks.append(Chunk(chunk_id(doc_key, settings, ordinal, body), ordinal, body,
                            start_char, end_char, n_tokens))
        if end == len(atoms):
            break
        previous_end = end
        first = _next_first(atoms, first, end, settings.overlap)
    return chunks
