"""Ownership enforced by PostgreSQL (migration 0006, `core.db.roles`): each process's role may write
only what its owner writes, and the running system's processes connect as their roles."""
from __future__ import annotations

import asyncio
import time
from typing import Any

import psycopg
import pytest

from core.db.roles import WRITES, Role, role_url
from tests.conftest import RaySystem, new_users


async def test_the_gateways_role_is_refused_an_account_update_the_wallets_makes(settings: Any, pool: Any) -> None:
    [user] = await new_users(pool)
    async with pool.connection() as conn:
        await conn.execute("INSERT INTO accounts (user_id) VALUES (%s)", (user,))
    url = settings.DATABASE_URL or ""
    update = "UPDATE accounts SET credits_posted = credits_posted + 1000000 WHERE user_id = %s"
    async with await psycopg.AsyncConnection.connect(role_url(url, Role.GATEWAY), autocommit=True) as gateway:
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied for table accounts"):
            await gateway.execute(update, (user,))
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied for table ledger_entries"):
            await gateway.execute("DELETE FROM ledger_entries WHERE user_id = %s", (user,))
    async with await psycopg.AsyncConnection.connect(role_url(url, Role.WALLET), autocommit=True) as wallet:
        assert (await wallet.execute(update, (user,))).rowcount == 1
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied for table users"):
            await wallet.execute("UPDATE users SET role = 'admin' WHERE id = %s", (user,))
    async with pool.connection() as conn:
        row = await (await conn.execute("SELECT credits_posted FROM accounts WHERE user_id = %s", (user,))).fetchone()
        await conn.execute("DELETE FROM accounts WHERE user_id = %s", (user,))  # leave the ledger sound
    assert row["credits_posted"] == 1_000_000


async def test_every_role_writes_exactly_its_owners_tables(settings: Any, pool: Any) -> None:
    async with pool.connection() as conn:
        tables = [r["tablename"] for r in await (await conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'schema_migrations'"
        )).fetchall()]
        granted: dict[Role, set[str]] = {}
        for role in Role:
            rows = await (await conn.execute(
                "SELECT t FROM unnest(%s::text[]) AS t WHERE has_table_privilege(%s, t, 'INSERT') "
                "OR has_table_privilege(%s, t, 'UPDATE') OR has_table_privilege(%s, t, 'DELETE')",
                (tables, role.value, role.value, role.value))).fetchall()
            granted[role] = {r["t"] for r in rows}
        readers = {role: bool((await (await conn.execute("SELECT has_table_privilege(%s, 'chunks', 'SELECT') AS ok",
                                                          (role.value,))).fetchone())["ok"]) for role in Role}
        tokens = {role for role in Role if (await (await conn.execute(
            "SELECT has_table_privilege(%s, 'api_tokens', 'SELECT') AS ok", (role.value,))).fetchone())["ok"]}
    assert granted == {role: set(owned) for role, owned in WRITES.items()}
    assert set(tables) == {t for owned in WRITES.values() for t in owned}  # no table without its writer
    assert all(readers.values()), readers
    assert tokens == {Role.GATEWAY, Role.BOT, Role.SCHEDULER}  # token hashes: who authenticates, and exports


async def test_the_running_systems_processes_connect_as_their_roles(ray_system: RaySystem, pool: Any) -> None:
    wanted = {Role.WALLET.value, Role.INGESTOR.value, Role.CRAWLER.value}
    seen: set[str] = set()
    deadline = time.monotonic() + 60
    while not wanted <= seen and time.monotonic() < deadline:
        async with pool.connection() as conn:
            rows = await (await conn.execute(
                "SELECT DISTINCT usename FROM pg_stat_activity WHERE datname = current_database()")).fetchall()
        seen = {r["usename"] for r in rows}
        await asyncio.sleep(0.5)
    assert wanted <= seen, seen
