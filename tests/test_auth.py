"""API tokens at the gateway: the principal (user, current role and tier) from a bearer token,
remembered for AUTH_CACHE_S seconds so a busy client costs no query per request, and a revoked token,
a changed role or a changed tier taking effect once that time has passed. A role change revokes the
user's tokens. Real PostgreSQL, no Ray."""
from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import HTTPException
from psycopg import sql
from starlette.requests import Request

from core.config import Settings
from core.db import api_tokens, users
from serve_app import deps
from tests.conftest import new_users


def bearer(token: str) -> Request:
    return Request({"type": "http", "method": "GET", "path": "/", "headers": [
        (b"authorization", f"Bearer {token}".encode())]})


@pytest.fixture
def gateway_with(settings: Settings) -> Iterator[Any]:
    def install(cache_s: float) -> None:
        deps.install(deps.Resources(settings.model_copy(update={"AUTH_CACHE_S": cache_s})))

    yield install
    deps.install(None)


async def set_directly(pool: Any, user: int, column: str, value: str) -> None:
    """A user's tier or role changed in the table, not through `users` (so no token is revoked)."""
    async with pool.connection() as conn:
        await conn.execute(sql.SQL("UPDATE users SET {} = %s WHERE id = %s").format(sql.Identifier(column)),
                           (value, user))


async def test_principal_carries_role_and_current_tier(pool: Any, gateway_with: Any) -> None:
    gateway_with(0)
    [user] = await new_users(pool)
    await set_directly(pool, user, "tier", "premium")
    await users.set_role(pool, user, "teacher")
    token = await api_tokens.issue(pool, user, "teacher")
    caller = await deps.principal(bearer(token))
    assert (caller.user_id, caller.role, caller.tier) == (user, "teacher", "premium")
    with pytest.raises(HTTPException) as refused:
        await deps.principal(bearer("ust_" + "x" * 43))
    assert refused.value.status_code == 401


async def test_without_the_cache_a_revoked_token_is_refused_at_once(pool: Any, gateway_with: Any) -> None:
    gateway_with(0)
    [user] = await new_users(pool)
    old = await api_tokens.issue(pool, user, "learner")
    assert (await deps.principal(bearer(old))).user_id == user
    await api_tokens.issue(pool, user, "learner")  # a new token revokes the old one
    with pytest.raises(HTTPException) as refused:
        await deps.principal(bearer(old))
    assert refused.value.status_code == 401


async def test_a_remembered_token_expires_with_the_cache(pool: Any, gateway_with: Any) -> None:
    gateway_with(0.5)
    [user] = await new_users(pool)
    old = await api_tokens.issue(pool, user, "learner")
    assert (await deps.principal(bearer(old))).tier == "free"
    await set_directly(pool, user, "tier", "standard")
    await api_tokens.issue(pool, user, "learner")
    remembered = await deps.principal(bearer(old))  # no query: the replica still trusts it
    assert (remembered.user_id, remembered.tier) == (user, "free")
    await asyncio.sleep(0.6)
    with pytest.raises(HTTPException) as refused:
        await deps.principal(bearer(old))
    assert refused.value.status_code == 401
    fresh = await api_tokens.issue(pool, user, "learner")
    assert (await deps.principal(bearer(fresh))).tier == "standard"


async def demoted_admin_token(pool: Any) -> str:
    """The token of an admin who was then made a learner in the table (the token is not revoked);
    checked to open admin routes before the change."""
    [user] = await new_users(pool)
    await set_directly(pool, user, "role", "admin")
    token = await api_tokens.issue(pool, user, "admin")
    assert (await deps.admin(bearer(token))).is_admin
    await set_directly(pool, user, "role", "learner")
    return token


async def test_a_token_authorises_as_its_users_current_role(pool: Any, gateway_with: Any) -> None:
    gateway_with(0)
    token = await demoted_admin_token(pool)
    assert (await deps.principal(bearer(token))).role == "learner"
    with pytest.raises(HTTPException) as refused:
        await deps.admin(bearer(token))
    assert refused.value.status_code == 403


async def test_a_role_change_revokes_the_users_tokens(pool: Any, gateway_with: Any) -> None:
    gateway_with(0)
    [user, other] = await new_users(pool, 2)
    await users.set_role(pool, user, "admin")
    token = await api_tokens.issue(pool, user, "admin")
    kept = await api_tokens.issue(pool, other, "learner")
    await users.set_role(pool, user, "admin")  # no change: the token stays
    assert (await deps.admin(bearer(token))).user_id == user
    demoted = await users.set_role(pool, user, "learner")
    assert demoted.role == "learner"
    with pytest.raises(HTTPException) as refused:
        await deps.principal(bearer(token))
    assert refused.value.status_code == 401
    assert (await deps.principal(bearer(kept))).user_id == other  # nobody else's token is touched


async def test_a_remembered_admin_loses_admin_routes_when_the_cache_expires(pool: Any, gateway_with: Any) -> None:
    gateway_with(0.5)
    token = await demoted_admin_token(pool)
    assert (await deps.admin(bearer(token))).is_admin  # within AUTH_CACHE_S the replica still trusts it
    await asyncio.sleep(0.6)
    with pytest.raises(HTTPException) as refused:
        await deps.admin(bearer(token))
    assert refused.value.status_code == 403
