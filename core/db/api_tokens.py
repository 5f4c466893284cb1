"""Per-user HTTP API tokens. Only a SHA-256 of each token is stored. This module is the one writer
of `api_tokens`.

An admin issues a token from the bot; HTTP clients send it as `Authorization: Bearer <token>`.
A token authorises as its user's role *now* (`users.role`), not the role it was issued with (kept
in `api_tokens.role` for the record): a demoted admin's token stops opening admin routes as soon
as the gateway's cache forgets it (AUTH_CACHE_S). Changing a user's role also revokes their tokens
(`revoke_all`, in the same transaction as the change); issuing a new token revokes the old one.
"""
from __future__ import annotations

import hashlib
import secrets
from typing import Any

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from core.user import Principal

PREFIX = "ust_"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def issue(pool: AsyncConnectionPool, user_id: int, role: str) -> str:
    """A new token for the user with `role`; their earlier tokens are revoked."""
    token = PREFIX + secrets.token_urlsafe(32)
    async with pool.connection() as conn, conn.transaction():
        await revoke_all(conn, user_id)
        await conn.execute("INSERT INTO api_tokens (user_id, token_hash, role) VALUES (%s, %s, %s)",
                           (user_id, _digest(token), role))
    return token


async def revoke_all(conn: AsyncConnection[Any], user_id: int) -> int:
    """Revoke every live token of the user (inside the caller's transaction); how many."""
    cursor = await conn.execute("UPDATE api_tokens SET revoked_at = now() WHERE user_id = %s AND revoked_at IS NULL",
                                (user_id,))
    return cursor.rowcount


async def revoke(pool: AsyncConnectionPool, user_id: int) -> int:
    """Revoke every live token of the user; how many."""
    async with pool.connection() as conn:
        return await revoke_all(conn, user_id)


async def authenticate(pool: AsyncConnectionPool, token: str) -> Principal | None:
    """The token's user with their current role and tier; None for an unknown or revoked token."""
    if not token.startswith(PREFIX) or len(token) > 200:
        return None
    async with pool.connection() as conn:
        row = await (await conn.execute(
            """SELECT t.user_id, u.role, u.tier FROM api_tokens t JOIN users u ON u.id = t.user_id
               WHERE t.token_hash = %s AND t.revoked_at IS NULL""",
            (_digest(token),))).fetchone()
    return Principal(row["user_id"], row["role"], row["tier"]) if row else None
