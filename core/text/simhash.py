"""64-bit SimHash fingerprints for near-duplicate detection, and an index that finds them.

A fingerprint is Charikar's SimHash over word shingles of the matching-normalised text
(`core.text.arabic.normalise_for_matching`), each shingle hashed with blake2b (8 bytes) so that
fingerprints are stable across processes and versions of Python (never `hash()`), weighted by
its count. Hamming distance ≤ 3 means "near duplicate" (Manku, Jain & Das Sarma, "Detecting
near-duplicates for web crawling", WWW 2007).

Shingles are 2 words: measured on the eval passages (ar/en/fr), 1-word shingles put different
passages of one article as close as 5 bits, 2-word shingles never closer than 18. The price is
recall on short text: with one word changed, ~39% of ~120-word passages but ~89% of ~600-word
documents stay within 3 bits (three words changed: 7% / 63%). SimHash at 64 bits is a
document-level tool; near-duplicate *passages* need a finer check (e.g. MinHash) on top.

`SimHashIndex` is their permuted-blocks method: split the 64 bits into k+1 blocks; two
fingerprints within k bits agree exactly on at least one block (pigeonhole), so each block value
is a dictionary key and a query only compares the few fingerprints sharing one of its blocks.

PostgreSQL has no unsigned 64-bit type: `to_signed` / `from_signed` map to and from BIGINT.
"""
from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Hashable, Iterator

import numpy as np
import regex

from core.text.arabic import normalise_for_matching

BITS = 64
SHINGLE_WORDS = 2
_MASK = (1 << BITS) - 1
_WORD = regex.compile(r"[\p{L}\p{N}]+")


def _shingles(text: str, width: int) -> Counter[str]:
    words = _WORD.findall(normalise_for_matching(text))
    if len(words) <= width:
        return Counter([" ".join(words)]) if words else Counter()
    return Counter(" ".join(words[i:i + width]) for i in range(len(words) - width + 1))


def simhash(text: str, shingle_words: int = SHINGLE_WORDS) -> int:
    """Unsigned 64-bit SimHash of `text` (0 for text without words)."""
    shingles = _shingles(text, shingle_words)
    if not shingles:
        return 0
    digests = b"".join(hashlib.blake2b(s.encode("utf-8"), digest_size=8).digest() for s in shingles)
    bits = np.unpackbits(np.frombuffer(digests, dtype=np.uint8).reshape(-1, 8), axis=1, bitorder="big")
    weights = np.fromiter(shingles.values(), dtype=np.int64, count=len(shingles))
    votes = weights @ (2 * bits.astype(np.int64) - 1)
    return int.from_bytes(np.packbits(votes > 0, bitorder="big").tobytes(), "big")


def hamming(a: int, b: int) -> int:
    """Number of differing bits between two unsigned fingerprints."""
    return ((a ^ b) & _MASK).bit_count()


def to_signed(fingerprint: int) -> int:
    """Unsigned 64-bit value → the signed value a PostgreSQL BIGINT stores."""
    return fingerprint - (1 << BITS) if fingerprint >= 1 << (BITS - 1) else fingerprint


def from_signed(value: int) -> int:
    """PostgreSQL BIGINT → unsigned 64-bit fingerprint."""
    return value & _MASK


def _block_bounds(blocks: int) -> list[tuple[int, int]]:
    edges = [round(i * BITS / blocks) for i in range(blocks + 1)]
    return [(lo, hi - lo) for lo, hi in zip(edges, edges[1:])]


class SimHashIndex:
    """Fingerprints with keys; `near` finds every stored one within `max_distance` bits."""

    def __init__(self, max_distance: int = 3) -> None:
        if not 0 <= max_distance < BITS:
            raise ValueError("max_distance must be in 0..63")
        self.max_distance = max_distance
        self._bounds = _block_bounds(max_distance + 1)
        self._tables: list[dict[int, list[int]]] = [{} for _ in self._bounds]
        self._entries: list[tuple[Hashable, int]] = []

    def __len__(self) -> int:
        return len(self._entries)

    def _blocks(self, fingerprint: int) -> Iterator[tuple[dict[int, list[int]], int]]:
        for table, (shift, width) in zip(self._tables, self._bounds):
            yield table, (fingerprint >> shift) & ((1 << width) - 1)

    def add(self, key: Hashable, fingerprint: int) -> None:
        """Store `fingerprint` (unsigned) under `key`; keys need not be unique."""
        position = len(self._entries)
        self._entries.append((key, fingerprint))
        for table, block in self._blocks(fingerprint):
            table.setdefault(block, []).append(position)

    def near(self, fingerprint: int, max_distance: int | None = None) -> list[tuple[Hashable, int]]:
        """(key, distance) of every stored fingerprint within `max_distance` bits, in insertion
        order; `max_distance` defaults to, and may not exceed, the index's."""
        limit = self.max_distance if max_distance is None else max_distance
        if not 0 <= limit <= self.max_distance:
            raise ValueError(f"this index answers distances up to {self.max_distance}")
        candidates = {p for table, block in self._blocks(fingerprint) for p in table.get(block, ())}
        found = []
        for position in sorted(candidates):
            key, stored = self._entries[position]
            distance = hamming(fingerprint, stored)
            if distance <= limit:
                found.append((key, distance))
        return found
