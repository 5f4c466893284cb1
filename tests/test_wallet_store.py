"""The wallet store and state machine against real PostgreSQL, without actors: one batch = one
transaction. Each test makes its own users. Invariants 1-6 of the wallet each have a test here that
fails if the invariant breaks (the actor tests check them again under concurrency and kills)."""
from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import pytest
from psycopg.types.json import Jsonb

from core.ledger import store, tiers
from core.ledger.commands import MAX_BIGINT, ExpireDue, Grant, Reserve, Settle, TopUp, Void, parse_reservation_id
from core.ledger.errors import (
    ERRORS,
    AlreadyResolved,
    BalanceOverflow,
    IdempotencyConflict,
    InsufficientFunds,
    InternalError,
    InvalidAmount,
    InvalidArgument,
    InvalidId,
    LedgerError,
    ReservationExpired,
    SettleExceedsReserved,
    UnknownModel,
    UnknownReservation,
    UnknownTier,
    UnknownUser,
    error_from_json,
)
from core.ledger.machine import encode
from core.ledger.model import Balance, Reservation, Status
from core.ledger.reconcile import reconcile
from core.ledger.sharding import Shard, shard_of
from core.user import TIERS as USER_TIERS
from tests.conftest import new_users

ONE = Shard(0, 1)
HOUR = 3600.0


async def run(pool: Any, *commands: Any) -> list[Any]:
    async with pool.connection() as conn:
        return await store.apply_batch(conn, ONE, list(commands))


async def balance(pool: Any, user_id: int) -> Balance:
    async with pool.connection() as conn:
        return await store.balance(conn, user_id)


async def snapshot(pool: Any, user_id: int) -> tuple[Any, ...]:
    """Everything the wallet stores about a user: account, reservations, entries."""
    async with pool.connection() as conn:
        account = await (await conn.execute("SELECT * FROM accounts WHERE user_id = %s", (user_id,))).fetchall()
        held = await (await conn.execute("SELECT * FROM reservations WHERE user_id = %s ORDER BY id",
                                         (user_id,))).fetchall()
        entries = await (await conn.execute("SELECT * FROM ledger_entries WHERE user_id = %s ORDER BY id",
                                            (user_id,))).fetchall()
    return tuple(map(str, (account, held, entries)))


def rid() -> str:
    return f"t-{uuid.uuid4().hex}"


async def funded(pool: Any, amount: int) -> int:
    (user,) = await new_users(pool)
    await run(pool, TopUp(user, amount, rid()))
    return user


# --- input validation: typed errors before anything is sent ------------------------------------

@pytest.mark.parametrize("amount", [0, -1, 2**63, 1.5, True, "10", None])
def test_bad_amounts_are_refused_with_a_typed_error(amount: Any) -> None:
    with pytest.raises(InvalidAmount) as caught:
        TopUp(1, amount, "r1")
    assert caught.value.code == "invalid_amount"


@pytest.mark.parametrize("make", [
    lambda: TopUp(0, 1, "r1"), lambda: TopUp(-5, 1, "r1"), lambda: TopUp(2**63, 1, "r1"), lambda: TopUp("7", 1, "r"),
    lambda: TopUp(1, 1, ""), lambda: TopUp(1, 1, "has space"), lambda: TopUp(1, 1, "x" * 129),
    lambda: Void("not-a-uuid", 1, "r1"), lambda: parse_reservation_id("nope"), lambda: parse_reservation_id(42),
])
def test_malformed_ids_are_refused(make: Any) -> None:
    with pytest.raises(InvalidId):
        make()


@pytest.mark.parametrize("ttl", [0, -1, float("inf"), float("nan"), 31 * 86400, "60"])
def test_bad_ttl_and_text_are_refused(ttl: Any) -> None:
    with pytest.raises(InvalidArgument):
        Reserve(1, 1, "r1", ttl)
    with pytest.raises(InvalidArgument):
        TopUp(1, 1, "r1", memo="m" * 201)


def test_settle_may_post_zero_but_not_less() -> None:
    assert Settle(uuid.uuid4(), 1, 0, "r").actual == 0
    with pytest.raises(InvalidAmount):
        Settle(uuid.uuid4(), 1, -1, "r")


def test_errors_have_stable_codes_and_round_trip() -> None:
    assert len(ERRORS) == len(set(ERRORS))
    assert {"insufficient_funds", "already_resolved", "reservation_expired", "settle_exceeds_reserved",
            "idempotency_conflict", "unknown_user", "unknown_reservation", "invalid_amount", "invalid_id",
            "balance_overflow", "wallet_unavailable"} <= set(ERRORS)
    error = InsufficientFunds("short", available=3, requested=5)
    assert error_from_json(error.to_json()) == error
    assert isinstance(ReservationExpired("x"), AlreadyResolved)


# --- basic operations ------------------------------------------------------------------------

async def test_top_up_creates_the_account_and_history(pool: Any) -> None:
    (user,) = await new_users(pool)
    assert await balance(pool, user) == Balance(user, 0, 0, 0)
    (after,) = await run(pool, TopUp(user, 1_500, rid(), "welcome"))
    (granted,) = await run(pool, Grant(user, 500, rid()))
    assert after == Balance(user, 1_500, 0, 0)
    assert (granted.posted, granted.available) == (2_000, 2_000)
    async with pool.connection() as conn:
        history = await store.movements(conn, user, 10, None)
        older = await store.movements(conn, user, 10, history[0].id)
    assert [(m.kind, m.credits, m.memo) for m in history] == [("grant", 500, ""), ("top_up", 1_500, "welcome")]
    assert [m.kind for m in older] == ["top_up"]


async def test_reserve_settle_returns_the_remainder(pool: Any) -> None:
    user = await funded(pool, 1_000)
    (held,) = await run(pool, Reserve(user, 300, rid(), HOUR, "question"))
    assert isinstance(held, Reservation) and held.status is Status.PENDING
    assert await balance(pool, user) == Balance(user, 1_000, 0, 300)
    (posted,) = await run(pool, Settle(held.id, user, 120, rid()))
    assert (posted.status, posted.settled_amount) == (Status.POSTED, 120)
    after = await balance(pool, user)
    assert (after.posted, after.pending, after.available) == (880, 0, 880)
    async with pool.connection() as conn:
        assert [r.id for r in await store.reservations(conn, user, Status.POSTED, 10)] == [held.id]
        assert await store.reservations(conn, user, Status.PENDING, 10) == []
        assert (await store.reservation(conn, held.id)).settled_amount == 120


async def test_void_returns_everything(pool: Any) -> None:
    user = await funded(pool, 1_000)
    (held,) = await run(pool, Reserve(user, 999, rid(), HOUR))
    (voided,) = await run(pool, Void(held.id, user, rid()))
    assert voided.status is Status.VOIDED and voided.settled_amount is None
    assert await balance(pool, user) == Balance(user, 1_000, 0, 0)


async def test_unknown_user_and_reservation_change_nothing(pool: Any) -> None:
    (user,) = await new_users(pool)
    before = await snapshot(pool, user)
    ghost = MAX_BIGINT - 7
    results = await run(pool, TopUp(ghost, 5, rid()), Reserve(ghost, 5, rid(), HOUR),
                        Settle(uuid.uuid4(), user, 1, rid()), Void(uuid.uuid4(), user, rid()))
    assert [type(r) for r in results] == [UnknownUser, UnknownUser, UnknownReservation, UnknownReservation]
    assert await snapshot(pool, user) == before
    with pytest.raises(UnknownUser):
        await balance(pool, ghost)
    async with pool.connection() as conn:
        with pytest.raises(UnknownReservation):
            await store.reservation(conn, uuid.uuid4())


async def test_a_reservation_of_another_user_is_unknown(pool: Any) -> None:
    owner, other = await funded(pool, 100), await funded(pool, 100)
    (held,) = await run(pool, Reserve(owner, 50, rid(), HOUR))
    (result,) = await run(pool, Settle(held.id, other, 50, rid()))
    assert isinstance(result, UnknownReservation)


async def test_balance_overflow_is_refused(pool: Any) -> None:
    user = await funded(pool, MAX_BIGINT - 10)
    (result,) = await run(pool, TopUp(user, 11, rid()))
    assert isinstance(result, BalanceOverflow)
    assert (await balance(pool, user)).credits == MAX_BIGINT - 10
    (ok,) = await run(pool, TopUp(user, 10, rid()))
    assert ok.credits == MAX_BIGINT


# --- the six invariants ----------------------------------------------------------------------

async def test_invariant_1_available_never_goes_negative(pool: Any) -> None:
    user = await funded(pool, 1_000)
    results = await run(pool, *(Reserve(user, 70, rid(), HOUR) for _ in range(20)))
    assert sum(isinstance(r, Reservation) for r in results) == 14
    refused = [r for r in results if isinstance(r, InsufficientFunds)]
    assert len(refused) == 6 and refused[0].details == {"available": 20, "requested": 70}
    assert (await balance(pool, user)).available == 20
    (none_left,) = await run(pool, Reserve(user, 21, rid(), HOUR))
    assert none_left.code == "insufficient_funds"
    async with pool.connection() as conn:
        negative = await (await conn.execute(
            "SELECT count(*) AS n FROM accounts WHERE credits_posted - debits_posted - debits_pending < 0")).fetchone()
    assert negative["n"] == 0


async def test_invariant_2_a_reservation_resolves_exactly_once(pool: Any) -> None:
    user = await funded(pool, 1_000)
    (held,) = await run(pool, Reserve(user, 400, rid(), HOUR))
    (posted,) = await run(pool, Settle(held.id, user, 100, rid()))
    assert posted.status is Status.POSTED
    before = await snapshot(pool, user)
    later = await run(pool, Settle(held.id, user, 100, rid()), Void(held.id, user, rid()),
                      ExpireDue(rid(), as_of=held.expires_at + timedelta(days=1)))
    assert [type(r) for r in later[:2]] == [AlreadyResolved, AlreadyResolved]
    assert later[0].details == {"status": "posted"}
    assert await snapshot(pool, user) == before
    # and in one batch: the first resolution wins, the second is refused
    (again,) = await run(pool, Reserve(user, 100, rid(), HOUR))
    void, settle = await run(pool, Void(again.id, user, rid()), Settle(again.id, user, 100, rid()))
    assert void.status is Status.VOIDED and isinstance(settle, AlreadyResolved)
    assert await balance(pool, user) == Balance(user, 1_000, 100, 0)


async def test_invariant_3_settle_cannot_exceed_the_reservation(pool: Any) -> None:
    user = await funded(pool, 1_000)
    (held,) = await run(pool, Reserve(user, 300, rid(), HOUR))
    before = await snapshot(pool, user)
    (result,) = await run(pool, Settle(held.id, user, 301, rid()))
    assert isinstance(result, SettleExceedsReserved)
    assert result.details == {"reserved": 300, "actual": 301}
    assert await snapshot(pool, user) == before
    (exact,) = await run(pool, Settle(held.id, user, 300, rid()))
    assert exact.settled_amount == 300
    assert await balance(pool, user) == Balance(user, 1_000, 300, 0)


async def test_invariant_4_idempotent_retries_and_conflicts(pool: Any) -> None:
    user = await funded(pool, 1_000)
    key = rid()
    (first,) = await run(pool, Reserve(user, 200, key, HOUR, "q"))
    (retry,) = await run(pool, Reserve(user, 200, key, HOUR, "q"))
    assert retry == first
    before = await snapshot(pool, user)
    conflicts = await run(pool, Reserve(user, 201, key, HOUR, "q"), TopUp(user, 5, key), Void(first.id, user, key))
    assert all(isinstance(c, IdempotencyConflict) for c in conflicts)
    assert conflicts[0].details == {"operation": "reserve"}
    assert await snapshot(pool, user) == before
    settle_key = rid()
    posted = await run(pool, Settle(first.id, user, 50, settle_key), Settle(first.id, user, 50, settle_key))
    assert posted[0] == posted[1] and posted[0].settled_amount == 50
    (replayed,) = await run(pool, Settle(first.id, user, 50, settle_key))
    assert replayed == posted[0]
    assert await balance(pool, user) == Balance(user, 1_000, 50, 0)
    top_key = rid()
    twice = await run(pool, TopUp(user, 7, top_key), TopUp(user, 7, top_key))
    assert twice[0] == twice[1] == Balance(user, 1_007, 50, 0)


async def test_invariant_4_a_refusal_replays_as_the_same_refusal(pool: Any) -> None:
    user = await funded(pool, 10)
    key = rid()
    (refused,) = await run(pool, Reserve(user, 50, key, HOUR))
    assert isinstance(refused, InsufficientFunds)
    await run(pool, TopUp(user, 100, rid()))
    (again,) = await run(pool, Reserve(user, 50, key, HOUR))
    assert again == refused
    assert (await balance(pool, user)).pending == 0


async def test_invariant_5_expiry_and_settle_in_one_batch_exactly_one_wins(pool: Any) -> None:
    user = await funded(pool, 1_000)
    first, second = await run(pool, Reserve(user, 100, rid(), 60), Reserve(user, 100, rid(), 60))
    later = first.expires_at + timedelta(seconds=1)
    settled, expired = await run(pool, Settle(first.id, user, 40, rid()), ExpireDue(rid(), as_of=later))
    assert settled.status is Status.POSTED and expired >= 1  # `second` (and any other test's due ones)
    _, late = await run(pool, ExpireDue(rid(), as_of=later), Settle(second.id, user, 40, rid()))
    assert isinstance(late, AlreadyResolved) and late.details == {"status": "expired"}
    assert await balance(pool, user) == Balance(user, 1_000, 40, 0)


async def test_a_settle_after_the_deadline_finds_it_expired(pool: Any) -> None:
    user = await funded(pool, 1_000)
    (held,) = await run(pool, Reserve(user, 100, rid(), 0.001))
    key = rid()
    (late,) = await run(pool, Settle(held.id, user, 100, key))
    assert isinstance(late, ReservationExpired)
    assert await balance(pool, user) == Balance(user, 1_000, 0, 0)
    async with pool.connection() as conn:
        assert (await store.reservation(conn, held.id)).status is Status.EXPIRED
    assert (await run(pool, Settle(held.id, user, 100, key)))[0] == late


async def test_invariant_6_reconcile_finds_any_mismatch(pool: Any) -> None:
    user = await funded(pool, 1_000)
    await run(pool, Reserve(user, 100, rid(), HOUR))
    async with pool.connection() as conn:
        report = await reconcile(conn)
        assert report.ok, report.lines()
        await conn.execute("UPDATE accounts SET credits_posted = credits_posted + 1 WHERE user_id = %s", (user,))
        await conn.commit()
        broken = await reconcile(conn)
        await conn.execute("UPDATE accounts SET credits_posted = credits_posted - 1 WHERE user_id = %s", (user,))
        await conn.commit()
        assert (await reconcile(conn)).ok
    assert not broken.ok
    assert [(m.user_id, m.check, m.stored - m.expected) for m in broken.mismatches] == [(user, "credits vs ledger", 1)]
    assert all(str(user) in line for line in broken.lines()[1:-1])
    assert broken.lines()[-1].startswith("MISMATCH")


async def test_a_database_rejection_fails_only_its_command(pool: Any) -> None:
    users = await new_users(pool, 2)
    async with pool.connection() as conn:
        await conn.execute("""CREATE FUNCTION pg_temp.boom() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN IF NEW.memo = 'boom' THEN RAISE EXCEPTION 'injected fault'; END IF; RETURN NEW; END $$""")
        await conn.execute("CREATE TRIGGER boom BEFORE INSERT ON ledger_entries FOR EACH ROW "
                           "EXECUTE FUNCTION pg_temp.boom()")
        await conn.commit()
        try:
            results = await store.apply_batch(conn, ONE, [TopUp(users[0], 5, rid()), TopUp(users[1], 5, rid(), "boom")])
        finally:
            await conn.execute("DROP TRIGGER boom ON ledger_entries")
            await conn.commit()
    assert results[0] == Balance(users[0], 5, 0, 0)
    assert isinstance(results[1], InternalError) and isinstance(results[1], LedgerError)
    assert await balance(pool, users[1]) == Balance(users[1], 0, 0, 0)


# --- sharding and tiers ----------------------------------------------------------------------

async def test_python_and_sql_shard_functions_agree(pool: Any) -> None:
    ids = [1, 2, 3, 1000, 65_537, 2**31 + 11, 2**40 + 3, MAX_BIGINT] + list(range(10, 400, 7))
    async with pool.connection() as conn:
        for count in (1, 2, 3, 8):
            rows = await (await conn.execute("SELECT u, wallet_shard(u, %s) AS s FROM unnest(%s::bigint[]) u",
                                             (count, ids))).fetchall()
            assert {r["u"]: r["s"] for r in rows} == {u: shard_of(u, count) for u in ids}
    spread = [shard_of(u, 2) for u in range(1, 1001)]
    assert 400 < spread.count(0) < 600


def test_tiers_match_the_users_table_and_prices_round_up() -> None:
    assert tuple(tiers.TIERS) == USER_TIERS
    free, premium = tiers.tier("free"), tiers.tier("premium")
    assert free.max_answer_tokens < premium.max_answer_tokens and not free.rerank and premium.rerank
    assert free.monthly_grant < premium.monthly_grant and free.retrieval_k <= premium.retrieval_k
    assert tiers.cost("gpt-4o-mini", 1, 0) == 15  # 15e6 per million -> 15 per token
    assert tiers.cost("text-embedding-3-small", 1, 0) == 2
    assert tiers.cost("text-embedding-3-small", 0, 0) == 0
    price = tiers.PRICES["gpt-4o-mini"]
    assert tiers.cost("gpt-4o-mini", 3, 7) == -(-(3 * price.input_per_million + 7 * price.output_per_million) // 10**6)
    assert tiers.reservation_amount("gpt-4o-mini", 100, "free") == tiers.cost("gpt-4o-mini", 100, 400)
    with pytest.raises(UnknownModel):
        tiers.cost("gpt-9", 1, 1)
    with pytest.raises(UnknownTier):
        tiers.tier("gold")
    with pytest.raises(InvalidArgument):
        tiers.cost("gpt-4o-mini", -1, 0)


def test_cost_rounds_up_to_the_next_micro_credit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(tiers.PRICES, "odd", tiers.Price("odd", input_per_million=3, output_per_million=0))
    assert tiers.cost("odd", 1, 0) == 1
    assert tiers.cost("odd", 333_333, 0) == 1
    assert tiers.cost("odd", 333_334, 0) == 2


async def test_batch_updates_look_rows_up_by_key_on_a_large_table(pool: Any) -> None:
    """20,000 reservations, no statistics gathered (autovacuum may be off): updating two of them must
    be two primary-key lookups, not a pass over the table (which cost 4-10 ms a batch as it grew)."""
    [user] = await new_users(pool)
    async with pool.connection() as conn:
        await conn.execute("INSERT INTO accounts (user_id, credits_posted) VALUES (%s, 1)", (user,))
        ids = [row["id"] for row in await (await conn.execute(
            """INSERT INTO reservations (id, user_id, amount, status, request_id, expires_at)
               SELECT gen_random_uuid(), %s, 1, 'pending', 'plan-' || g, now() + interval '1 hour'
               FROM generate_series(1, 20000) g RETURNING id""", (user,))).fetchall()]
        now = (await (await conn.execute("SELECT now() AS t")).fetchone())["t"]
        plan = await explain(conn, store._UPDATE_RESERVATIONS, (ids[:2], ["voided"] * 2, [None] * 2, [now] * 2))
        assert "Seq Scan on reservations" not in plan and "reservations_pkey" in plan, plan
        await conn.execute("DELETE FROM reservations WHERE user_id = %s", (user,))
        await conn.execute("DELETE FROM accounts WHERE user_id = %s", (user,))  # it has no ledger entries
    async with pool.connection() as conn:  # accounts has a few dozen rows here, which the planner may
        await conn.execute("SET LOCAL enable_seqscan = off")  # rightly scan: the key lookup must be possible
        plan = await explain(conn, store._UPDATE_ACCOUNTS, ([user], [1], [0], [0]))
        assert "Seq Scan on accounts" not in plan and "accounts_pkey" in plan, plan


async def explain(conn: Any, sql: str, params: tuple[Any, ...]) -> str:
    return "\n".join(row["QUERY PLAN"] for row in await (await conn.execute("EXPLAIN " + sql, params)).fetchall())


async def test_a_batch_racing_an_uncommitted_duplicate_runs_again_and_answers_its_result(pool: Any) -> None:
    """A killed actor's transaction may still be committing the same request when its successor runs
    it again. For a first top-up there is no row to lock: the rerun's inserts wait on the other
    transaction's key and account, fail once it commits, and the batch runs again and answers the
    stored result instead of crediting twice."""
    user, key = (await new_users(pool))[0], rid()
    stored = Balance(user, 100, 0, 0)
    async with pool.connection() as zombie, pool.connection() as successor:
        await zombie.execute("INSERT INTO accounts (user_id, credits_posted) VALUES (%s, 100)", (user,))
        await zombie.execute("INSERT INTO ledger_entries (user_id, kind, credits, request_id) "
                             "VALUES (%s, 'top_up', 100, %s)", (user, key))
        await zombie.execute("INSERT INTO idempotency_keys (request_id, operation, fingerprint, result) "
                             "VALUES (%s, %s, %s, %s)", (key, "top_up", TopUp(user, 100, key).fingerprint,
                                                         Jsonb(encode(stored))))
        rerun = asyncio.create_task(store.apply_batch(successor, ONE, [TopUp(user, 100, key)]))
        await asyncio.sleep(0.5)
        assert not rerun.done()  # waiting on the zombie's uncommitted key
        await zombie.commit()
        outcomes = await asyncio.wait_for(rerun, 10)
    assert outcomes == [stored]
    assert await run(pool, TopUp(user, 5, rid())) == [Balance(user, 105, 0, 0)]
    async with pool.connection() as conn:
        assert (await reconcile(conn)).ok
