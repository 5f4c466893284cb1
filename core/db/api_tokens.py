"""Per-user HTTP API tokens carrying a role claim. Only a SHA-256 of each token is stored.

An admin issues a token from the bot; HTTP clients send it as `Authorization: Bearer <token>`.
The role claim is fixed at issue time; revoking (or issuing a new one) ends the old token.
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from psycopg_pool import AsyncConnectionPool

PREFIX = "ust_"


@dataclass(frozen=True)
class Principal:
    user_id: int
    role: str
    tier: str = "free"

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def issue(pool: AsyncConnectionPool, user_id: int, role: str) -> str:
    """A new token for the user with `role`; their earlier tokens are revoked."""
    token = PREFIX + secrets.token_urlsafe(32)
    async with pool.connection() as conn, conn.transaction():
        await conn.execute("UPDATE api_tokens SET revoked_at = now() WHERE user_id = %s AND revoked_at IS NULL",
                           (user_id,))
        await conn.execute("INSERT INTO api_tokens (user_id, token_hash, role) VALUES (%s, %s, %s)",
                           (user_id, _digest(token), role))
    return token


async def authenticate(pool: AsyncConnectionPool, token: str) -> Principal | None:
    """The token's user, role claim and the user's current tier; None for an unknown or revoked token."""
    if not token.startswith(PREFIX) or len(token) > 200:
        return None
    async with pool.connection() as conn:
        row = await (await conn.execute(
            """SELECT t.user_id, t.role, u.tier FROM api_tokens t JOIN users u ON u.id = t.user_id
               WHERE t.token_hash = %s AND t.revoked_at IS NULL""",
            (_digest(token),))).fetchone()
    return Principal(row["user_id"], row["role"], row["tier"]) if row else None
