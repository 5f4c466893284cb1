"""Ranking quality for one relevant item per query: recall@k, MRR and nDCG@10."""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Scores:
    queries: int
    recall: dict[int, float]
    mrr: float
    ndcg10: float


def score(rankings: Sequence[Sequence[str]], gold: Sequence[str], ks: Sequence[int] = (1, 5, 10)) -> Scores:
    ranks = [_rank(ranking, answer) for ranking, answer in zip(rankings, gold)]
    n = max(1, len(ranks))
    return Scores(
        queries=len(ranks),
        recall={k: sum(r is not None and r <= k for r in ranks) / n for k in ks},
        mrr=sum(1 / r for r in ranks if r is not None) / n,
        ndcg10=sum(1 / math.log2(r + 1) for r in ranks if r is not None and r <= 10) / n,
    )


def _rank(ranking: Sequence[str], answer: str) -> int | None:
    for position, item in enumerate(ranking, start=1):
        if item == answer:
            return position
    return None
