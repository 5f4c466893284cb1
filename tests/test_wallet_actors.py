"""The wallet through its shard actors and the `Wallet` facade, on the session's Ray cluster:
typed errors across Ray, group commit, idempotent retries across actor kills and dropped database
connections, expiry racing settles, the sweep, health, and the `ustadh jobs` commands."""
from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import psycopg
import pytest
import ray

from actors import registry
from actors.clients.wallet import Wallet
from core.config import Settings
from core.db.migrate import migrate
from core.ledger.commands import TopUp
from core.ledger.errors import (
    AlreadyResolved,
    IdempotencyConflict,
    InsufficientFunds,
    InvalidAmount,
    InvalidArgument,
    InvalidId,
    SettleExceedsReserved,
    UnknownReservation,
    UnknownUser,
    WrongShard,
)
from core.ledger.model import Balance, Reservation, Status
from core.ledger.reconcile import reconcile
from core.ledger.sharding import shard_of
from ops.cli import main
from tests.conftest import new_users

HOUR = 3600.0


def rid() -> str:
    return f"a-{uuid.uuid4().hex}"


@pytest.fixture
def wallet(ray_system: Any) -> Wallet:
    return Wallet(ray_system.settings)


async def assert_reconciled(pool: Any) -> None:
    async with pool.connection() as conn:
        report = await reconcile(conn)
    assert report.ok, report.lines()


async def terminate_wallet_connections(pool: Any) -> int:
    async with pool.connection() as conn:
        rows = await (await conn.execute(
            """SELECT pg_terminate_backend(pid) AS done FROM pg_stat_activity
               WHERE application_name LIKE 'wallet_ledger_%%' AND datname = current_database()""")).fetchall()
    return len(rows)


def kill_shard(shard: int) -> None:
    ray.kill(registry.get(registry.wallet_ledger(shard)), no_restart=False)


async def test_shards_are_registered_and_answer_ping(ray_system: Any) -> None:
    settings: Settings = ray_system.settings
    names = [registry.wallet_ledger(i) for i in range(settings.WALLET_SHARDS)]
    assert set(names) <= set(registry.actor_names(settings))
    pongs = [await registry.get(name).ping.remote() for name in names]
    assert [p["shard"] for p in pongs] == list(range(settings.WALLET_SHARDS))
    assert all(p["committer"] == "up" for p in pongs)


async def test_typed_errors_come_back_as_themselves(wallet: Wallet, pool: Any) -> None:
    (user,) = await new_users(pool)
    await wallet.top_up(user, 100, rid())
    with pytest.raises(InsufficientFunds) as caught:
        await wallet.reserve(user, 101, rid())
    assert caught.value.code == "insufficient_funds"
    assert caught.value.details == {"available": 100, "requested": 101}
    with pytest.raises(UnknownUser):
        await wallet.balance(2**62)
    with pytest.raises(UnknownUser):
        await wallet.top_up(2**62, 1, rid())
    with pytest.raises(UnknownReservation):
        await wallet.reservation(uuid.uuid4())
    held = await wallet.reserve(user, 60, rid())
    with pytest.raises(SettleExceedsReserved):
        await wallet.settle(held, 61, rid())
    with pytest.raises(InvalidAmount):
        await wallet.top_up(user, 0, rid())
    with pytest.raises(InvalidAmount):
        await wallet.reserve(user, 2**63, rid())
    with pytest.raises(InvalidId):
        await wallet.reservation("12345")
    with pytest.raises(InvalidArgument):
        await wallet.reservations(user, "cancelled")
    assert await wallet.balance(user) == Balance(user, 100, 0, 60)


async def test_the_full_api_round_trip(wallet: Wallet, pool: Any) -> None:
    (user,) = await new_users(pool)
    assert await wallet.balance(user) == Balance(user, 0, 0, 0)
    await wallet.grant(user, 1_000, rid(), memo="monthly grant")
    held = await wallet.reserve(user, 400, rid(), purpose="question")
    assert held.expires_at - held.created_at == timedelta(seconds=wallet.settings.WALLET_RESERVATION_TTL_S)
    assert (await wallet.reservation(str(held.id))) == held
    kept = await wallet.reserve(user, 100, rid(), ttl_s=HOUR)
    posted = await wallet.settle(held, 250, rid())
    assert (posted.status, posted.settled_amount) == (Status.POSTED, 250)
    balance = await wallet.balance(user)
    assert (balance.posted, balance.pending, balance.available) == (750, 100, 650)
    assert [r.id for r in await wallet.reservations(user, "pending")] == [kept.id]
    assert [r.id for r in await wallet.reservations(user, Status.POSTED)] == [held.id]
    assert len(await wallet.reservations(user)) == 2
    history = await wallet.movements(user)
    assert [m.kind for m in history] == ["settle", "reserve", "reserve", "grant"]
    assert [m.kind for m in await wallet.movements(user, limit=2, before_id=history[1].id)] == ["reserve", "grant"]
    voided = await wallet.void(kept, rid())
    assert voided.status is Status.VOIDED
    assert await wallet.balance(user) == Balance(user, 1_000, 250, 0)


async def test_invariant_1_concurrent_reserves_never_overdraw(wallet: Wallet, pool: Any) -> None:
    users = await new_users(pool, 4)
    for user in users:
        await wallet.top_up(user, 1_000, rid())
    attempts = [wallet.reserve(user, 30, rid()) for user in users for _ in range(50)]
    results = await asyncio.gather(*attempts, return_exceptions=True)
    for n, user in enumerate(users):
        mine = results[n * 50:(n + 1) * 50]
        assert sum(isinstance(r, Reservation) for r in mine) == 33
        assert sum(isinstance(r, InsufficientFunds) for r in mine) == 17
        assert (await wallet.balance(user)).available == 10
    await assert_reconciled(pool)


async def test_concurrent_requests_are_group_committed(wallet: Wallet, pool: Any) -> None:
    users = await new_users(pool, 8)
    tag = uuid.uuid4().hex[:8]
    await asyncio.gather(*(wallet.top_up(u, 5, f"gc-{tag}-{u}-{i}") for u in users for i in range(40)))
    async with pool.connection() as conn:
        row = await (await conn.execute(
            "SELECT count(*) AS entries, count(DISTINCT xmin::text) AS transactions FROM ledger_entries "
            "WHERE request_id LIKE %s", (f"gc-{tag}-%",))).fetchone()
    assert row["entries"] == 320
    assert row["transactions"] <= 320 / 4, row  # many requests per commit
    assert [(await wallet.balance(u)).credits for u in users] == [200] * len(users)


async def test_invariant_4_retries_never_charge_twice(wallet: Wallet, pool: Any) -> None:
    (user,) = await new_users(pool)
    await wallet.top_up(user, 1_000, rid())
    key = rid()
    same = await asyncio.gather(*(wallet.reserve(user, 100, key, ttl_s=HOUR) for _ in range(20)))
    assert len({r.id for r in same}) == 1 and same[0] == same[-1]
    with pytest.raises(IdempotencyConflict):
        await wallet.reserve(user, 101, key, ttl_s=HOUR)
    settle_key = rid()
    posted = await asyncio.gather(*(wallet.settle(same[0], 70, settle_key) for _ in range(10)))
    assert len(set(posted)) == 1
    assert await wallet.balance(user) == Balance(user, 1_000, 70, 0)


async def test_invariant_5_expiry_racing_settle_exactly_one_wins(wallet: Wallet, pool: Any) -> None:
    (user,) = await new_users(pool)
    await wallet.top_up(user, 100_000, rid())
    winners = []
    for _ in range(12):
        held = await wallet.reserve(user, 1_000, rid(), ttl_s=HOUR)
        settle = asyncio.ensure_future(wallet.settle(held, 600, rid()))
        expire = asyncio.ensure_future(wallet.expire_due(held.expires_at + timedelta(seconds=1)))
        outcome, _ = await asyncio.gather(settle, expire, return_exceptions=True)
        final = await wallet.reservation(held.id)
        if isinstance(outcome, Reservation):
            assert final.status is Status.POSTED and final.settled_amount == 600
        else:
            assert isinstance(outcome, AlreadyResolved) and final.status is Status.EXPIRED
        winners.append(final.status)
    posted = winners.count(Status.POSTED)
    assert await wallet.balance(user) == Balance(user, 100_000, 600 * posted, 0)
    await assert_reconciled(pool)


async def test_killing_a_shard_mid_flight_loses_and_duplicates_nothing(wallet: Wallet, pool: Any) -> None:
    users = await new_users(pool, 6)
    for user in users:
        await wallet.top_up(user, 10_000, rid())
    keys = {user: [f"kill-{uuid.uuid4().hex}" for _ in range(15)] for user in users}
    flight = asyncio.gather(*(wallet.reserve(u, 10, k, ttl_s=HOUR) for u in users for k in keys[u]))
    await asyncio.sleep(0.02)
    kill_shard(0)
    kill_shard(1 % wallet.shards)
    held = await flight
    again = await asyncio.gather(*(wallet.reserve(u, 10, k, ttl_s=HOUR) for u in users for k in keys[u]))
    assert [r.id for r in again] == [r.id for r in held]
    for user in users:
        assert await wallet.balance(user) == Balance(user, 10_000, 0, 150)
    await assert_reconciled(pool)


async def test_dropped_database_connections_lose_and_duplicate_nothing(wallet: Wallet, pool: Any) -> None:
    users = await new_users(pool, 6)
    for user in users:
        await wallet.top_up(user, 10_000, rid())
    keys = [(u, f"drop-{uuid.uuid4().hex}") for u in users for _ in range(40)]
    flight = asyncio.gather(*(wallet.top_up(u, 3, k) for u, k in keys))
    dropped = 0
    for _ in range(5):
        await asyncio.sleep(0.01)
        dropped += await terminate_wallet_connections(pool)
    await flight
    assert dropped > 0
    await asyncio.gather(*(wallet.top_up(u, 3, k) for u, k in keys))
    for user in users:
        assert (await wallet.balance(user)).credits == 10_120
    assert (await wallet.balance(users[0])).pending == 0  # reads work again too
    await assert_reconciled(pool)


async def test_the_sweep_expires_reservations_by_itself(wallet: Wallet, pool: Any) -> None:
    (user,) = await new_users(pool)
    await wallet.top_up(user, 500, rid())
    held = await wallet.reserve(user, 200, rid(), ttl_s=0.2)
    for _ in range(int(wallet.settings.WALLET_EXPIRY_SWEEP_S * 10) + 30):
        if (await wallet.reservation(held.id)).status is Status.EXPIRED:
            break
        await asyncio.sleep(0.1)
    assert (await wallet.reservation(held.id)).status is Status.EXPIRED
    assert await wallet.balance(user) == Balance(user, 500, 0, 0)
    with pytest.raises(AlreadyResolved):
        await wallet.settle(held, 100, rid())
    assert [m.kind for m in await wallet.movements(user)] == ["expire", "reserve", "top_up"]


async def test_users_are_spread_over_the_shards(ray_system: Any, pool: Any) -> None:
    users = await new_users(pool, 40)
    shards = {shard_of(u, ray_system.settings.WALLET_SHARDS) for u in users}
    assert shards == set(range(ray_system.settings.WALLET_SHARDS))


async def test_a_shard_refuses_another_shards_users_and_writes_nothing(ray_system: Any, pool: Any) -> None:
    """A client configured with another shard count sends users to the wrong actor: that actor
    refuses them (only a user's own shard writes their rows) and still serves its own users."""
    assert ray_system.settings.WALLET_SHARDS == 2
    users = await new_users(pool, 12)
    theirs = next(u for u in users if shard_of(u, 2) == 1)
    mine = next(u for u in users if shard_of(u, 2) == 0)
    shard_zero = registry.get(registry.wallet_ledger(0))
    outcomes = await shard_zero.execute.remote([TopUp(theirs, 500, rid()), TopUp(mine, 300, rid())])
    assert isinstance(outcomes[0], WrongShard) and not outcomes[0].retryable
    assert outcomes[1] == Balance(mine, 300, 0, 0)
    misconfigured = Wallet(ray_system.settings.model_copy(update={"WALLET_SHARDS": 1}))
    with pytest.raises(WrongShard):
        await misconfigured.top_up(theirs, 500, rid())
    async with pool.connection() as conn:
        rows = await (await conn.execute("SELECT count(*) AS n FROM ledger_entries WHERE user_id = %s",
                                         (theirs,))).fetchone()
    assert rows["n"] == 0
    assert await Wallet(ray_system.settings).balance(theirs) == Balance(theirs, 0, 0, 0)


def test_cli_jobs_reconcile_reports_and_sets_the_exit_status(cli_env: Settings,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["jobs", "reconcile"]) == 0
    assert capsys.readouterr().out.strip().endswith("OK")


def test_cli_jobs_expire_goes_through_the_running_shards(cli_env: Settings,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    wallet = Wallet(cli_env)
    with psycopg.connect(cli_env.DATABASE_URL or "") as conn:
        user = conn.execute("INSERT INTO users (first_name) VALUES ('cli') RETURNING id").fetchone()[0]

    async def reserve_briefly() -> Reservation:
        await wallet.top_up(user, 50, rid())
        return await wallet.reserve(user, 50, rid(), ttl_s=0.01)

    held = asyncio.run(reserve_briefly())
    assert main(["jobs", "expire"]) == 0
    assert capsys.readouterr().out.startswith("expired ")
    assert asyncio.run(wallet.reservation(held.id)).status is Status.EXPIRED


def test_cli_jobs_reconcile_fails_on_a_tampered_balance(settings: Settings, monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    """A balance changed behind the ledger's back (here: by hand) is reported, with exit status 1."""
    from tests.conftest import with_database

    name = f"tamper_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(settings.DATABASE_URL or "", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = with_database(settings.DATABASE_URL or "", name)
    try:
        migrate(url)
        with psycopg.connect(url) as conn:
            user = conn.execute("INSERT INTO users (first_name) VALUES ('t') RETURNING id").fetchone()[0]
            conn.execute("INSERT INTO accounts (user_id, credits_posted) VALUES (%s, 100)", (user,))
            conn.execute("INSERT INTO ledger_entries (user_id, kind, credits, request_id) VALUES (%s, 'top_up', 90, 'x')",
                         (user,))
        monkeypatch.setenv("DATABASE_URL", url)
        monkeypatch.setenv("DATA_DIR", str(settings.DATA_DIR))
        assert main(["jobs", "reconcile"]) == 1
        assert str(user) in capsys.readouterr().out
    finally:
        with psycopg.connect(settings.DATABASE_URL or "", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
