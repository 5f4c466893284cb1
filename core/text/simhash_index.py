"""The near-duplicate index a crawl keeps in memory: which known pages a SimHash fingerprint is
within a few bits of.

This module owns the crawl-facing interface only: fingerprint first, keys out, Hamming distance
≤ 3 by default. The search itself is `core.text.simhash.SimHashIndex` (multi-index hashing after
Manku, Jain & Das Sarma, WWW 2007: the 64 bits split into 4 blocks of 16; two fingerprints within
3 bits agree exactly on at least one block, so a lookup compares only the fingerprints that share
a block value with the query: ~6 candidates at 100,000 random fingerprints), so the method exists
once in the code base. `bench/scraper.py` measures it against a linear scan.
"""
from __future__ import annotations

from collections.abc import Hashable

from core.text.simhash import SimHashIndex

MAX_DISTANCE = 3


class NearDuplicateIndex:
    """64-bit fingerprints (unsigned) with keys; `near` lists the keys of those within a few bits."""

    def __init__(self, max_distance: int = MAX_DISTANCE) -> None:
        self._index = SimHashIndex(max_distance)

    def __len__(self) -> int:
        return len(self._index)

    @property
    def max_distance(self) -> int:
        return self._index.max_distance

    def add(self, fingerprint: int, key: Hashable) -> None:
        """Remember `fingerprint` under `key` (a key may be added more than once)."""
        self._index.add(key, fingerprint)

    def near(self, fingerprint: int, max_distance: int = MAX_DISTANCE) -> list[Hashable]:
        """Keys of the stored fingerprints within `max_distance` bits (at most the index's), in the
        order they were added."""
        return [key for key, _ in self._index.near(fingerprint, max_distance)]
