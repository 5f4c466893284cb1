"""Users: created on first contact from Telegram (or by an operator, `core.app.accounts`), with
language, role and tier. This module is the one writer of `users`."""
from __future__ import annotations

from psycopg_pool import AsyncConnectionPool

from core.db import api_tokens
from core.user import LANGUAGES, ROLES, TIERS, User, language_from_telegram

_COLUMNS = "id, telegram_id, username, first_name, language, role, tier"


async def upsert_from_telegram(pool: AsyncConnectionPool, telegram_id: int, *, username: str | None,
                               first_name: str | None, language_code: str | None,
                               admin_ids: tuple[int, ...]) -> User:
    """The user for a Telegram id, created on first contact; ADMIN_TELEGRAM_IDS are always admins."""
    role = "admin" if telegram_id in admin_ids else "learner"
    async with pool.connection() as conn:
        row = await (await conn.execute(
            f"""INSERT INTO users (telegram_id, username, first_name, language, role)
                VALUES (%(tid)s, %(username)s, %(first_name)s, %(language)s, %(role)s)
                ON CONFLICT (telegram_id) DO UPDATE SET
                    username = EXCLUDED.username, first_name = EXCLUDED.first_name, last_seen_at = now(),
                    role = CASE WHEN %(role)s = 'admin' THEN 'admin' ELSE users.role END
                RETURNING {_COLUMNS}""",
            {"tid": telegram_id, "username": username, "first_name": first_name,
             "language": language_from_telegram(language_code), "role": role})).fetchone()
    return User(**row)


async def create(pool: AsyncConnectionPool, *, username: str | None, language: str, role: str, tier: str) -> User:
    """A user with no Telegram account yet (an HTTP client or an operator's first admin); the
    columns' CHECK constraints refuse a language, role or tier we do not have."""
    async with pool.connection() as conn:
        row = await (await conn.execute(
            f"""INSERT INTO users (username, language, role, tier) VALUES (%s, %s, %s, %s)
                RETURNING {_COLUMNS}""", (username, language, role, tier))).fetchone()
    return User(**row)


async def by_id(pool: AsyncConnectionPool, user_id: int) -> User | None:
    async with pool.connection() as conn:
        row = await (await conn.execute(f"SELECT {_COLUMNS} FROM users WHERE id = %s", (user_id,))).fetchone()
    return User(**row) if row else None


async def _set(pool: AsyncConnectionPool, user_id: int, column: str, value: str,
               allowed: tuple[str, ...]) -> User | None:
    """The user after the change; None if there is no such user."""
    if value not in allowed:
        raise ValueError(f"unsupported {column} {value!r}")
    async with pool.connection() as conn:
        row = await (await conn.execute(
            f"UPDATE users SET {column} = %s WHERE id = %s RETURNING {_COLUMNS}", (value, user_id))).fetchone()
    return User(**row) if row else None


async def set_language(pool: AsyncConnectionPool, user_id: int, language: str) -> User | None:
    return await _set(pool, user_id, "language", language, LANGUAGES)


async def find(pool: AsyncConnectionPool, reference: str) -> User | None:
    """A user by '@username', Telegram id, or '#<internal id>' as admins type them."""
    ref = reference.strip()
    if ref.startswith("@") and len(ref) > 1:
        query, value = "lower(username) = lower(%s)", ref[1:]
    elif ref.startswith("#") and ref[1:].isdigit():
        query, value = "id = %s", int(ref[1:])
    elif ref.lstrip("-").isdigit() and len(ref) < 20:
        query, value = "telegram_id = %s", int(ref)
    else:
        return None
    async with pool.connection() as conn:
        row = await (await conn.execute(f"SELECT {_COLUMNS} FROM users WHERE {query}", (value,))).fetchone()
    return User(**row) if row else None


async def set_tier(pool: AsyncConnectionPool, user_id: int, tier: str) -> User | None:
    return await _set(pool, user_id, "tier", tier, TIERS)


async def set_role(pool: AsyncConnectionPool, user_id: int, role: str) -> User | None:
    """Give the user `role`; a change revokes their API tokens in the same transaction (they must be
    issued again, with what the new role allows). Note: ADMIN_TELEGRAM_IDS become admin again on
    their next message (see upsert_from_telegram)."""
    if role not in ROLES:
        raise ValueError(f"unsupported role {role!r}")
    async with pool.connection() as conn, conn.transaction():
        before = await (await conn.execute("SELECT role FROM users WHERE id = %s FOR UPDATE", (user_id,))).fetchone()
        if before is None:
            return None
        row = await (await conn.execute(
            f"UPDATE users SET role = %s WHERE id = %s RETURNING {_COLUMNS}", (role, user_id))).fetchone()
        if before["role"] != role:
            await api_tokens.revoke_all(conn, user_id)
    return User(**row)


async def recent(pool: AsyncConnectionPool, limit: int = 30) -> tuple[int, list[User]]:
    """How many users there are, and the `limit` most recently created ones, newest first."""
    async with pool.connection() as conn:
        total = (await (await conn.execute("SELECT count(*) AS n FROM users")).fetchone())["n"]
        rows = await (await conn.execute(
            f"SELECT {_COLUMNS} FROM users ORDER BY created_at DESC, id DESC LIMIT %s", (limit,))).fetchall()
    return total, [User(**row) for row in rows]

