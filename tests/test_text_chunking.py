"""Chunking: exact offsets, token bounds, sentence cuts, Arabic intact, deterministic ids."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.text.chunking import Chunk, ChunkSettings, chunk_text
from core.text.tokens import count_tokens

EVAL = Path(__file__).resolve().parents[1].parent / "shared" / "eval"
SETTINGS = [ChunkSettings(size=64, overlap=16), ChunkSettings(size=24, overlap=8), ChunkSettings(size=6, overlap=0)]


def eval_rows() -> list[dict[str, str]]:
    paths = [EVAL / "xquad" / "passages.jsonl", EVAL / "piaf" / "passages.jsonl"]
    if not all(p.exists() for p in paths):
        pytest.skip(f"eval data absent: {EVAL}")
    return [json.loads(line) for p in paths for line in p.read_text("utf-8").splitlines()]


def check(text: str, chunks: list[Chunk], settings: ChunkSettings) -> None:
    assert chunks, "non-blank text gives at least one chunk"
    for ordinal, chunk in enumerate(chunks):
        assert chunk.ordinal == ordinal
        assert text[chunk.char_start:chunk.char_end] == chunk.text
        assert chunk.text == chunk.text.strip()
        assert chunk.n_tokens == count_tokens(chunk.text) <= settings.size
    for before, after in zip(chunks, chunks[1:]):
        assert before.char_start < after.char_start and before.char_end < after.char_end
    covered = set().union(*(range(c.char_start, c.char_end) for c in chunks))
    assert all(i in covered for i, ch in enumerate(text) if not ch.isspace())  # nothing dropped


@pytest.mark.parametrize("settings", SETTINGS, ids=lambda s: f"{s.size}-{s.overlap}")
def test_eval_passages(settings: ChunkSettings) -> None:
    for row in eval_rows()[::3]:
        check(row["text"], chunk_text(row["text"], row["id"], settings), settings)


def test_arabic_words_never_split() -> None:
    rows = [r for r in eval_rows() if r["lang"] == "ar"]
    settings = ChunkSettings(size=12, overlap=4)
    for row in rows[::4]:
        text = row["text"]
        for chunk in chunk_text(text, row["id"], settings):
            assert chunk.char_start == 0 or text[chunk.char_start - 1].isspace()
            assert chunk.char_end == len(text) or text[chunk.char_end].isspace()
            assert chunk.text.encode("utf-8").decode("utf-8") == chunk.text


def test_cuts_at_arabic_and_french_punctuation() -> None:
    text = ("ما هي الخلية؟ الخلية وحدة الحياة، وهي صغيرة جدا؛ تتكون من غشاء ونواة.\n"
            "Il a dit « la cellule » puis : voilà… Vraiment ? Oui !")
    chunks = chunk_text(text, "doc", ChunkSettings(size=10, overlap=0))
    check(text, chunks, ChunkSettings(size=10, overlap=0))
    assert [c.text for c in chunks] == ["ما هي الخلية؟", "الخلية وحدة الحياة،", "وهي صغيرة جدا؛",
                                        "تتكون من غشاء ونواة.", "Il a dit « la cellule » puis :",
                                        "voilà… Vraiment ? Oui !"]


def test_sentences_are_packed_until_size() -> None:
    text = "One two three. Four five six. Seven eight nine. Ten eleven twelve."
    chunks = chunk_text(text, "doc", ChunkSettings(size=8, overlap=0))
    assert [c.text for c in chunks] == ["One two three. Four five six.", "Seven eight nine. Ten eleven twelve."]


def test_overlap_repeats_whole_sentences() -> None:
    text = "One two three. Four five six. Seven eight nine. Ten eleven twelve."
    chunks = chunk_text(text, "doc", ChunkSettings(size=12, overlap=4))
    assert [c.text for c in chunks] == ["One two three. Four five six. Seven eight nine.",
                                        "Seven eight nine. Ten eleven twelve."]


def test_long_sentence_is_cut_between_words() -> None:
    text = " ".join(["الطالب يدرس العلوم في المدرسة"] * 30)
    settings = ChunkSettings(size=10, overlap=3)
    chunks = chunk_text(text, "doc", settings)
    check(text, chunks, settings)
    assert len(chunks) > 10
    assert all(set(c.text.split()) <= {"الطالب", "يدرس", "العلوم", "في", "المدرسة"} for c in chunks)


def test_giant_word_is_cut_between_characters() -> None:
    text = "début " + "ءآأؤإئابةتثجحخدذرزسشصضطظعغ" * 20 + " fin"
    settings = ChunkSettings(size=16, overlap=0)
    chunks = chunk_text(text, "doc", settings)
    check(text, chunks, settings)
    assert "".join(c.text for c in chunks[1:-1]) in text


def test_blank_text_has_no_chunks() -> None:
    assert chunk_text(" \n\t ", "doc") == []


def test_ids_are_deterministic_and_depend_on_settings() -> None:
    row = eval_rows()[0]
    first = chunk_text(row["text"], row["id"], ChunkSettings(size=40, overlap=8))
    again = chunk_text(row["text"], row["id"], ChunkSettings(size=40, overlap=8))
    other_overlap = chunk_text(row["text"], row["id"], ChunkSettings(size=40, overlap=4))
    other_key = chunk_text(row["text"], "another-doc", ChunkSettings(size=40, overlap=8))
    assert [c.id for c in first] == [c.id for c in again]
    assert len({c.id for c in first}) == len(first)
    assert all(len(c.id) == 32 and int(c.id, 16) >= 0 for c in first)
    assert not {c.id for c in first} & {c.id for c in other_overlap}
    assert not {c.id for c in first} & {c.id for c in other_key}


@pytest.mark.parametrize(("size", "overlap"), [(0, 0), (10, 10), (10, -1)])
def test_bad_settings(size: int, overlap: int) -> None:
    with pytest.raises(ValueError):
        ChunkSettings(size=size, overlap=overlap)
