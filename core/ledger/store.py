"""The wallet's SQL: one batch of commands in one transaction, and the read queries.

`apply_batch` takes two round trips to the server. The first opens the transaction, locks the rows
the batch touches (reservations, then accounts, each in key order, `FOR UPDATE`) and reads the
idempotency keys only after it holds those locks (so a write still committing from a killed
actor's connection is seen). The commands are then applied in memory (`machine`), and the second
round trip writes everything back, one statement per table, and commits. If another transaction
inserted a key or an account first, the insert fails, the whole batch is rolled back and run
again, and then sees that row. A batch is all or nothing: an error anywhere in the transaction
block aborts it, and it is rolled back.

The `WalletLedger` shard actors are the one writer of `accounts`, `reservations`, `ledger_entries` and
`idempotency_keys` (each shard its users'); everyone else goes through `actors.clients.wallet`.
"""
from __future__ import annotations

import contextlib
import json
from typing import Any
from uuid import UUID

import psycopg
from loguru import logger
from psycopg import AsyncConnection
from psycopg.errors import DeadlockDetected, UniqueViolation
from psycopg.pq import TransactionStatus
from psycopg.types.json import Jsonb

from core.ledger.commands import Command, ExpireDue, Settle, Void
from core.ledger.errors import InternalError, UnknownReservation, UnknownUser
from core.ledger.machine import Account, Batch, Key, Outcome, apply_all
from core.ledger.model import Balance, Movement, Reservation, Status
from core.ledger.sharding import Shard

_RESERVATION_COLUMNS = ("id, user_id, amount, settled_amount, status, purpose, request_id, created_at, expires_at, "
                        "resolved_at")
_RERUNS = 5
# For the connection that runs batches: plan each statement for its parameters and the tables as they
# are now. A generic plan cached while the tables were small (a fresh database, statistics not yet
# gathered) keeps seq-scanning them as they grow: measured, a wallet batch took 4-10 ms instead of
# 1 ms after a few minutes of traffic.
CONNECTION_OPTIONS = "-c plan_cache_mode=force_custom_plan"
# Batch updates join unnest()ed arrays: the planner sees how many rows come and looks each one up by
# key. (A jsonb_to_recordset is always guessed at 100 rows, and a hash join over the whole table won.)
_UPDATE_ACCOUNTS = """
    UPDATE accounts a SET credits_posted = v.credits, debits_posted = v.debits, debits_pending = v.pending,
                          updated_at = now()
    FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[], %s::bigint[]) AS v(user_id, credits, debits, pending)
    WHERE a.user_id = v.user_id"""
_UPDATE_RESERVATIONS = """
    UPDATE reservations r SET status = v.status, settled_amount = v.settled_amount, resolved_at = v.resolved_at
    FROM unnest(%s::uuid[], %s::text[], %s::bigint[], %s::timestamptz[]) AS v(id, status, settled_amount, resolved_at)
    WHERE r.id = v.id"""


async def apply_batch(conn: AsyncConnection[dict[str, Any]], shard: Shard, commands: list[Command]) -> list[Outcome]:
    """Apply `commands` in order in one transaction; returns one outcome per command.

    Connection errors propagate (nothing was committed, or the commit's fate is unknown: the caller
    re-runs the batch). If the database rejects the batch otherwise, which the machine's checks
    should make impossible, each command runs alone so only the culprit fails, with InternalError.
    """
    try:
        return await _apply(conn, shard, commands)
    except (psycopg.OperationalError, psycopg.InterfaceError):
        raise
    except psycopg.Error as exc:
        if len(commands) == 1:
            logger.error("database rejected a wallet command", error=str(exc))
            return [InternalError(f"the database rejected this wallet command: {exc.sqlstate}")]
        logger.error("database rejected a wallet batch; running its commands one by one", size=len(commands))
        return [outcome for command in commands for outcome in await apply_batch(conn, shard, [command])]


async def _apply(conn: AsyncConnection[dict[str, Any]], shard: Shard, commands: list[Command]) -> list[Outcome]:
    """Two round trips: BEGIN with the locking reads, then the writes with COMMIT."""
    for _ in range(_RERUNS):
        try:
            batch = await _load(conn, shard, commands)
            outcomes = apply_all(batch, commands)
            await _write(conn, batch)
            return outcomes
        except (UniqueViolation, DeadlockDetected):  # raced another connection: run again, after it
            await _rollback(conn)
        except BaseException:
            await _rollback(conn)
            raise
    raise RuntimeError(f"batch lost {_RERUNS} races (duplicate inserts or deadlocks) in a row")


async def _rollback(conn: AsyncConnection[dict[str, Any]]) -> None:
    if conn.closed or conn.info.transaction_status == TransactionStatus.IDLE:
        return
    with contextlib.suppress(psycopg.OperationalError, psycopg.InterfaceError):  # a dead link rolls back by itself
        await conn.execute("ROLLBACK")


def _user_ids(commands: list[Command]) -> set[int]:
    return {c.user_id for c in commands if not isinstance(c, ExpireDue)}


async def _load(conn: AsyncConnection[dict[str, Any]], shard: Shard, commands: list[Command]) -> Batch:
    """BEGIN, lock the rows, read the keys: one round trip (a sweep first finds its due rows)."""
    sweeps = [c for c in commands if isinstance(c, ExpireDue)]
    wanted = sorted({c.reservation_id for c in commands if isinstance(c, Settle | Void)})
    request_ids = [c.request_id for c in commands if not isinstance(c, ExpireDue)]
    async with conn.pipeline():  # executed in this order; the key lookup runs after the locks are held
        await conn.execute("BEGIN")
        due = await _due(conn, shard, sweeps) if sweeps else {}
        user_ids = sorted(_user_ids(commands) | {r.user_id for r in due.values()})
        held = await conn.execute(f"SELECT {_RESERVATION_COLUMNS} FROM reservations WHERE id = ANY(%s) "
                                  "ORDER BY id FOR UPDATE", (wanted,))
        accounts = await conn.execute(
            "SELECT user_id, credits_posted, debits_posted, debits_pending FROM accounts WHERE user_id = ANY(%s) "
            "ORDER BY user_id FOR UPDATE", (user_ids,))
        users = await conn.execute("SELECT id FROM users WHERE id = ANY(%s)", (user_ids,))
        keys = await conn.execute(
            "SELECT request_id, operation, fingerprint, result FROM idempotency_keys WHERE request_id = ANY(%s)",
            (request_ids,))
        clock = await conn.execute("SELECT clock_timestamp() AS now")
        return Batch(
            now=(await clock.fetchone() or {})["now"],
            users={row["id"] for row in await users.fetchall()},
            accounts={r["user_id"]: Account(r["user_id"], r["credits_posted"], r["debits_posted"], r["debits_pending"])
                      for r in await accounts.fetchall()},
            reservations={**due, **{r["id"]: Reservation.from_row(r) for r in await held.fetchall()}},
            keys={r["request_id"]: Key(r["request_id"], r["operation"], r["fingerprint"], r["result"])
                  for r in await keys.fetchall()},
        )


async def _due(conn: AsyncConnection[dict[str, Any]], shard: Shard,
               sweeps: list[ExpireDue]) -> dict[UUID, Reservation]:
    clock = await (await conn.execute("SELECT clock_timestamp() AS now")).fetchone()
    as_of = max(s.as_of or (clock or {})["now"] for s in sweeps)
    rows = await (await conn.execute(
        f"""SELECT {_RESERVATION_COLUMNS} FROM reservations
            WHERE status = 'pending' AND expires_at <= %s AND wallet_shard(user_id, %s) = %s
            ORDER BY expires_at, id LIMIT %s FOR UPDATE""",
        (as_of, shard.count, shard.index, max(s.limit for s in sweeps)))).fetchall()
    return {row["id"]: Reservation.from_row(row) for row in rows}


async def _write(conn: AsyncConnection[dict[str, Any]], batch: Batch) -> None:
    """Every write and the COMMIT: one round trip. A key or account inserted meanwhile by another
    transaction fails the insert (UniqueViolation) and with it the transaction."""
    created = [batch.accounts[u] for u in sorted(batch.created_accounts)]
    changed = [batch.accounts[u] for u in sorted(batch.changed_accounts - batch.created_accounts)]
    new = [batch.reservations[r] for r in sorted(batch.created_reservations)]
    resolved = [batch.reservations[r] for r in sorted(batch.changed_reservations)]
    async with conn.pipeline():
        await _insert_keys(conn, batch.new_keys)
        await _insert_accounts(conn, created)
        await _update_accounts(conn, changed)
        await _insert_reservations(conn, new)
        await _update_reservations(conn, resolved)
        await _insert_entries(conn, batch)
        await conn.execute("COMMIT")


async def _insert_keys(conn: AsyncConnection[dict[str, Any]], keys: list[Key]) -> None:
    if keys:
        await conn.execute(
            """INSERT INTO idempotency_keys (request_id, operation, fingerprint, result)
               SELECT * FROM jsonb_to_recordset(%s) AS v(request_id text, operation text, fingerprint text,
                                                         result jsonb)""",
            (Jsonb([k.__dict__ for k in keys]),))


async def _insert_accounts(conn: AsyncConnection[dict[str, Any]], accounts: list[Account]) -> None:
    if accounts:
        await conn.execute(
            """INSERT INTO accounts (user_id, credits_posted, debits_posted, debits_pending)
               SELECT * FROM jsonb_to_recordset(%s)
                   AS v(user_id bigint, credits bigint, debits bigint, pending bigint)""",
            (Jsonb([a.__dict__ for a in accounts]),))


async def _update_accounts(conn: AsyncConnection[dict[str, Any]], accounts: list[Account]) -> None:
    if accounts:
        await conn.execute(_UPDATE_ACCOUNTS, ([a.user_id for a in accounts], [a.credits for a in accounts],
                                              [a.debits for a in accounts], [a.pending for a in accounts]))


async def _insert_reservations(conn: AsyncConnection[dict[str, Any]], rows: list[Reservation]) -> None:
    if rows:
        await conn.execute(
            f"""INSERT INTO reservations ({_RESERVATION_COLUMNS})
                SELECT {_RESERVATION_COLUMNS} FROM jsonb_to_recordset(%s) AS v(
                    id uuid, user_id bigint, amount bigint, settled_amount bigint, status text, purpose text,
                    request_id text, created_at timestamptz, expires_at timestamptz, resolved_at timestamptz)""",
            (Jsonb([r.to_json() for r in rows]),))


async def _update_reservations(conn: AsyncConnection[dict[str, Any]], rows: list[Reservation]) -> None:
    if rows:
        await conn.execute(_UPDATE_RESERVATIONS, ([r.id for r in rows], [r.status.value for r in rows],
                                                  [r.settled_amount for r in rows], [r.resolved_at for r in rows]))


async def _insert_entries(conn: AsyncConnection[dict[str, Any]], batch: Batch) -> None:
    if batch.entries:
        await conn.execute(
            """INSERT INTO ledger_entries (user_id, kind, credits, debits, pending_delta, reservation_id, request_id,
                                           memo)
               SELECT * FROM jsonb_to_recordset(%s) AS v(user_id bigint, kind text, credits bigint, debits bigint,
                                                         pending_delta bigint, reservation_id uuid, request_id text,
                                                         memo text)""",
            (Jsonb([e.__dict__ for e in batch.entries], dumps=_dumps),))


def _dumps(value: Any) -> str:
    return json.dumps(value, default=str)


async def balance(conn: AsyncConnection[dict[str, Any]], user_id: int) -> Balance:
    """The user's balance; zero for a user without an account yet, UnknownUser for no such user."""
    row = await (await conn.execute(
        """SELECT u.id, a.credits_posted, a.debits_posted, a.debits_pending
           FROM users u LEFT JOIN accounts a ON a.user_id = u.id WHERE u.id = %s""", (user_id,))).fetchone()
    if row is None:
        raise UnknownUser(f"no user {user_id}")
    return Balance(user_id, row["credits_posted"] or 0, row["debits_posted"] or 0, row["debits_pending"] or 0)


async def reservation(conn: AsyncConnection[dict[str, Any]], reservation_id: UUID) -> Reservation:
    row = await (await conn.execute(f"SELECT {_RESERVATION_COLUMNS} FROM reservations WHERE id = %s",
                                    (reservation_id,))).fetchone()
    if row is None:
        raise UnknownReservation(f"no reservation {reservation_id}")
    return Reservation.from_row(row)


async def reservations(conn: AsyncConnection[dict[str, Any]], user_id: int, status: Status | None,
                       limit: int) -> list[Reservation]:
    """A user's reservations, newest first, optionally of one status."""
    rows = await (await conn.execute(
        f"""SELECT {_RESERVATION_COLUMNS} FROM reservations
            WHERE user_id = %s AND (%s::text IS NULL OR status = %s) ORDER BY created_at DESC, id LIMIT %s""",
        (user_id, status and status.value, status and status.value, limit))).fetchall()
    return [Reservation.from_row(row) for row in rows]


async def movements(conn: AsyncConnection[dict[str, Any]], user_id: int, limit: int,
                    before_id: int | None) -> list[Movement]:
    """A user's ledger entries, newest first; `before_id` pages back from an entry id."""
    rows = await (await conn.execute(
        """SELECT id, user_id, kind, credits, debits, pending_delta, reservation_id, request_id, memo, created_at
           FROM ledger_entries WHERE user_id = %s AND (%s::bigint IS NULL OR id < %s) ORDER BY id DESC LIMIT %s""",
        (user_id, before_id, before_id, limit))).fetchall()
    return [Movement(**row) for row in rows]
