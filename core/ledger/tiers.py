"""Tiers and prices in one place: what each tier may use and what model usage costs.

Amounts are micro-credits (1 credit = 1,000,000 micro-credits). Prices are micro-credits per
million tokens, so a cost is an exact integer: ceil((in * input_price + out * output_price) / 1e6).
Later issues reserve `reservation_amount(...)` (the prompt plus the tier's answer cap) before a model
call and settle `cost(...)` of the actual usage.
"""
from __future__ import annotations

from dataclasses import dataclass

from core.ledger.errors import InvalidArgument, UnknownModel, UnknownTier

MICRO = 1_000_000
EXTRACTIVE = "extractive"


@dataclass(frozen=True)
class Tier:
    name: str
    daily_questions: int
    max_answer_tokens: int
    retrieval_k: int
    rerank: bool
    monthly_grant: int
    per_minute: int


@dataclass(frozen=True)
class Price:
    model: str
    input_per_million: int
    output_per_million: int


TIERS: dict[str, Tier] = {
    "free": Tier("free", daily_questions=10, max_answer_tokens=400, retrieval_k=4, rerank=False,
                 monthly_grant=5 * MICRO, per_minute=6),
    "standard": Tier("standard", daily_questions=100, max_answer_tokens=1000, retrieval_k=8, rerank=True,
                     monthly_grant=50 * MICRO, per_minute=20),
    "premium": Tier("premium", daily_questions=500, max_answer_tokens=2000, retrieval_k=12, rerank=True,
                    monthly_grant=250 * MICRO, per_minute=60),
}

PRICES: dict[str, Price] = {
    "gpt-4o-mini": Price("gpt-4o-mini", input_per_million=15 * MICRO, output_per_million=60 * MICRO),
    "gpt-4o": Price("gpt-4o", input_per_million=250 * MICRO, output_per_million=1000 * MICRO),
    "text-embedding-3-small": Price("text-embedding-3-small", input_per_million=2 * MICRO, output_per_million=0),
    # The local models `ustadh up` serves on the machine's own CPU (core.llm.local_models): cheaper than
    # a remote model, dearer than quoting, since they read and write every token.
    "qwen2.5-1.5b": Price("qwen2.5-1.5b", input_per_million=3 * MICRO, output_per_million=12 * MICRO),
    "smollm2-135m": Price("smollm2-135m", input_per_million=3 * MICRO, output_per_million=12 * MICRO),
    # Offline answers and quizzes (no LLM): quoting the material costs a token-priced fee below any model's.
    EXTRACTIVE: Price(EXTRACTIVE, input_per_million=1 * MICRO, output_per_million=4 * MICRO),
}


def tier(name: str) -> Tier:
    try:
        return TIERS[name]
    except KeyError:
        raise UnknownTier(f"no tier {name!r}; tiers are {', '.join(TIERS)}") from None


def price(model: str) -> Price:
    try:
        return PRICES[model]
    except KeyError:
        raise UnknownModel(f"no price for model {model!r}; priced models are {', '.join(PRICES)}") from None


def cost(model: str, tokens_in: int, tokens_out: int) -> int:
    """Micro-credits for a model call, rounded up to the next micro-credit."""
    for name, tokens in (("tokens_in", tokens_in), ("tokens_out", tokens_out)):
        if type(tokens) is not int or tokens < 0:
            raise InvalidArgument(f"{name} must be a non-negative integer, got {tokens!r}")
    p = price(model)
    return -(-(tokens_in * p.input_per_million + tokens_out * p.output_per_million) // MICRO)


def reservation_amount(model: str, prompt_tokens: int, tier_name: str) -> int:
    """What to reserve before a call: the prompt plus the tier's maximum answer, at the model's price."""
    return cost(model, prompt_tokens, tier(tier_name).max_answer_tokens)
