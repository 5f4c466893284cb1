"""SimHash: stable fingerprints, near duplicates vs unrelated text, index == brute force."""
from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from core.text.simhash import SimHashIndex, from_signed, hamming, simhash, to_signed

EVAL = Path(__file__).resolve().parents[1].parent / "shared" / "eval"


def eval_texts() -> list[str]:
    paths = [EVAL / "xquad" / "passages.jsonl", EVAL / "piaf" / "passages.jsonl"]
    if not all(p.exists() for p in paths):
        pytest.skip(f"eval data absent: {EVAL}")
    return [json.loads(line)["text"] for p in paths for line in p.read_text("utf-8").splitlines()]


def documents() -> list[str]:
    texts = eval_texts()
    return ["\n".join(texts[i:i + 5]) for i in range(0, len(texts) - 4, 5)]


def change_words(text: str, count: int, rng: random.Random) -> str:
    words = text.split(" ")
    for _ in range(count):
        words[rng.randrange(len(words))] = f"mot{rng.randrange(10**6)}"
    return " ".join(words)


def test_fingerprint_is_stable_and_normalised() -> None:
    assert simhash("The cat sat on the mat") == simhash("the  CAT sat, on the mat!")
    assert simhash("أَحْمَدُ في المدرسة") == simhash("احمد في المدرسه")
    assert simhash("") == 0
    assert 0 <= simhash("x") < 2**64
    assert simhash("le chat dort sur le tapis") == 0xB357F762C6B3400A  # pinned: same on every run


def test_identical_and_reformatted_text_is_distance_zero() -> None:
    text = eval_texts()[0]
    assert hamming(simhash(text), simhash("  " + text.replace(" ", "\n") + "  ")) == 0


def test_documents_with_a_word_changed_stay_within_3_bits() -> None:
    rng = random.Random(7)
    docs = documents()
    near = [hamming(simhash(d), simhash(change_words(d, 1, rng))) for d in docs]
    assert sum(d <= 3 for d in near) / len(near) >= 0.8  # measured 0.89


def test_unrelated_passages_are_far_apart() -> None:
    texts = eval_texts()
    prints = [simhash(t) for t in texts]
    rng = random.Random(3)
    pairs = [(i, i + 1) for i in range(len(texts) - 1)] + [tuple(rng.sample(range(len(texts)), 2)) for _ in range(2000)]
    assert min(hamming(prints[a], prints[b]) for a, b in pairs if texts[a] != texts[b]) > 3


def test_signed_round_trip() -> None:
    for value in [0, 1, 2**63 - 1, 2**63, 2**64 - 1, 0xB5F2F9DC1D6A1DC5]:
        signed = to_signed(value)
        assert -(2**63) <= signed < 2**63
        assert from_signed(signed) == value
    assert to_signed(2**64 - 1) == -1


def test_index_matches_brute_force() -> None:
    rng = random.Random(11)
    stored = [rng.getrandbits(64) for _ in range(3000)]
    queries = [rng.getrandbits(64) for _ in range(200)]
    for base in rng.sample(stored, 300):  # plant neighbours at 0..5 bits
        flipped = base
        for bit in rng.sample(range(64), rng.randrange(6)):
            flipped ^= 1 << bit
        queries.append(flipped)
    index = SimHashIndex(max_distance=3)
    for key, fingerprint in enumerate(stored):
        index.add(key, fingerprint)
    assert len(index) == len(stored)
    hits = 0
    for query in queries:
        for limit in (3, 1):
            expected = [(k, hamming(query, f)) for k, f in enumerate(stored) if hamming(query, f) <= limit]
            assert index.near(query, limit) == expected
            hits += len(expected)
    assert hits > 200  # planted neighbours were found, not just empty answers


def test_index_other_block_counts() -> None:
    rng = random.Random(5)
    stored = [rng.getrandbits(64) for _ in range(500)]
    index = SimHashIndex(max_distance=5)
    for key, fingerprint in enumerate(stored):
        index.add(key, fingerprint)
    query = stored[42] ^ 0b11111
    assert (42, 5) in index.near(query)
    with pytest.raises(ValueError):
        index.near(query, 6)
