"""User -> wallet shard: a stable Fibonacci hash, the same in Python and in SQL (`wallet_shard`).

The SQL twin lives in migrations/0002_wallet_shard.sql so an actor's expiry sweep can select the
reservations of its own users; tests check that both agree.
"""
from __future__ import annotations

from dataclasses import dataclass

_GOLDEN = 0x9E3779B97F4A7C15
_MASK = (1 << 64) - 1


@dataclass(frozen=True)
class Shard:
    index: int
    count: int


def shard_of(user_id: int, count: int) -> int:
    """The shard (0 <= shard < count) that owns `user_id`'s account."""
    return (((user_id * _GOLDEN) & _MASK) >> 32) % count
