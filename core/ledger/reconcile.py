"""Reconciliation: every account's stored sums against its ledger entries and its reservations.

For each account: credits = Σ entry credits, debits = Σ entry debits = Σ settled amounts of posted
reservations, pending = Σ entry pending deltas = Σ amounts of pending reservations, and available =
credits − debits − pending ≥ 0. Read-only, one statement (hence one consistent snapshot), so it
can run at any time beside the shard actors.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import AsyncConnection
from psycopg.rows import dict_row

_QUERY = """
WITH e AS (SELECT user_id, sum(credits) AS credits, sum(debits) AS debits, sum(pending_delta) AS pending
           FROM ledger_entries GROUP BY user_id),
     r AS (SELECT user_id, sum(amount) FILTER (WHERE status = 'pending') AS pending,
                  sum(settled_amount) FILTER (WHERE status = 'posted') AS settled
           FROM reservations GROUP BY user_id)
SELECT a.user_id, a.credits_posted AS credits, a.debits_posted AS debits, a.debits_pending AS pending,
       coalesce(e.credits, 0) AS entry_credits, coalesce(e.debits, 0) AS entry_debits,
       coalesce(e.pending, 0) AS entry_pending, coalesce(r.pending, 0) AS reserved_pending,
       coalesce(r.settled, 0) AS reserved_settled
FROM accounts a LEFT JOIN e USING (user_id) LEFT JOIN r USING (user_id)
ORDER BY a.user_id
"""


@dataclass(frozen=True)
class Mismatch:
    user_id: int
    check: str
    stored: int
    expected: int

    def __str__(self) -> str:
        return f"user {self.user_id}: {self.check} stored {self.stored}, expected {self.expected}"


@dataclass(frozen=True)
class Report:
    accounts: int
    credits: int
    debits: int
    pending: int
    mismatches: tuple[Mismatch, ...]

    @property
    def ok(self) -> bool:
        return not self.mismatches

    def lines(self) -> list[str]:
        head = (f"reconciled {self.accounts} account(s): credits {self.credits}, debits {self.debits}, "
                f"pending {self.pending} micro-credits")
        return [head, *(str(m) for m in self.mismatches),
                "OK" if self.ok else f"MISMATCH: {len(self.mismatches)} problem(s)"]


def _mismatches(row: dict[str, Any]) -> list[Mismatch]:
    uid = row["user_id"]
    checks = [("credits vs ledger", row["credits"], row["entry_credits"]),
              ("debits vs ledger", row["debits"], row["entry_debits"]),
              ("debits vs posted reservations", row["debits"], row["reserved_settled"]),
              ("pending vs ledger", row["pending"], row["entry_pending"]),
              ("pending vs pending reservations", row["pending"], row["reserved_pending"]),
              ("available >= 0", row["credits"] - row["debits"] - row["pending"],
               max(0, row["credits"] - row["debits"] - row["pending"]))]
    return [Mismatch(uid, name, int(stored), int(expected)) for name, stored, expected in checks if stored != expected]


async def reconcile_database(database_url: str, application_name: str = "reconcile") -> Report:
    """`reconcile` on a connection of its own (the CLI's `ustadh jobs reconcile`, the Scheduler)."""
    conn = await psycopg.AsyncConnection.connect(database_url, autocommit=True, row_factory=dict_row,
                                                 connect_timeout=10, application_name=application_name)
    async with conn:
        return await reconcile(conn)


async def reconcile(conn: AsyncConnection[dict[str, Any]]) -> Report:
    """Check every account; the report lists each mismatch (none when the ledger is sound)."""
    rows = await (await conn.execute(_QUERY)).fetchall()
    return Report(accounts=len(rows), credits=sum(r["credits"] for r in rows), debits=sum(r["debits"] for r in rows),
                  pending=sum(r["pending"] for r in rows),
                  mismatches=tuple(m for row in rows for m in _mismatches(row)))
