"""The learner `ustadh eval --answers/--quizzes` asks as: owns creating it and reading back what the
running system recorded about its requests.

One fresh user per run (`eval_<hex>`, no Telegram id, created and credited through
`core.app.accounts` and `core.app.top_ups` as an operator's CLI would), on the premium tier (the deepest
retrieval, 60 requests a minute, `MAX_REQUESTS` a day) and topped up with enough credit for every
planned request at the dearest priced model, so a run never stops short of credit. The database is
the running system's (`ops.services.resolved_settings`: its embedded PostgreSQL under DATA_DIR, or
DATABASE_URL). Read back: the `questions` row the Tutor writes for a request id (mode, output tokens),
and for chunk ids their text and the eval passage they belong to (document uri `eval:<passage id>`).
"""
from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from psycopg_pool import AsyncConnectionPool

from core.app.accounts import Accounts
from core.app.top_ups import TopUps
from core.app.wallet_view import WalletView
from core.config import Settings
from core.db.pool import open_pool
from core.ledger.tiers import PRICES, cost, tier

TIER = "premium"
MAX_REQUESTS = tier(TIER).daily_questions


@dataclass(frozen=True)
class Chunk:
    passage: str  # the eval passage id ("xquad-en-p017"), or the document uri for other material
    text: str


@dataclass(frozen=True)
class Learner:
    id: int
    pool: AsyncConnectionPool

    async def record(self, request_id: str) -> dict[str, Any] | None:
        """The `questions` row of one of this learner's requests (status, mode, tokens_out), if any."""
        async with self.pool.connection() as conn:
            return await (await conn.execute(
                """SELECT status, mode, reason, tokens_out FROM questions
                   WHERE user_id = %s AND request_id = %s ORDER BY id DESC LIMIT 1""",
                (self.id, request_id))).fetchone()

    async def chunks(self, chunk_ids: Iterable[str | None]) -> dict[str, Chunk]:
        """The named chunks that exist, by id."""
        wanted = sorted({c for c in chunk_ids if c})
        if not wanted:
            return {}
        async with self.pool.connection() as conn:
            rows = await (await conn.execute(
                """SELECT c.id, c.text, d.uri FROM chunks c JOIN documents d ON d.id = c.document_id
                   WHERE c.id = ANY(%s)""", (wanted,))).fetchall()
        return {row["id"]: Chunk(row["uri"].removeprefix("eval:"), row["text"]) for row in rows}


def credit_needed(settings: Settings, requests: int) -> int:
    """Micro-credits that cover `requests` reservations (prompt budget plus the tier's answer cap)
    at the dearest priced model."""
    answer_cap = tier(TIER).max_answer_tokens
    return requests * max(cost(model, settings.ANSWER_CONTEXT_TOKENS, answer_cap) for model in PRICES)


@asynccontextmanager
async def eval_learner(settings: Settings, requests: int) -> AsyncIterator[Learner]:
    """A fresh premium learner with credit for `requests` requests, for the block."""
    from actors.clients.wallet import Wallet
    from ops.services import resolved_settings

    with resolved_settings(settings) as resolved:
        pool = await open_pool(resolved.DATABASE_URL or "", None, max_size=2, name="eval")
        try:
            wallet = Wallet(settings)
            accounts = Accounts(pool, WalletView(wallet))
            user = await accounts.create(f"eval_{uuid.uuid4().hex[:12]}", tier=TIER)
            await TopUps(accounts, wallet).credit(f"#{user.id}", credit_needed(settings, requests),
                                                  f"eval:{user.id}", by="ustadh eval")
            yield Learner(user.id, pool)
        finally:
            await pool.close()
