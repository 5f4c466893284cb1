"""A learner's wallet as every surface shows it: this month's tier grant claimed first, then the
balance and movements. The one home of the monthly-grant rule (`core.ledger.grants` says what the
grant is; this says when it is claimed: before any balance, history or spending).

A grant's request id names the user, month and tier, so claiming again is a replay that credits
nothing; a `WalletView` also remembers the claims it made, so a busy caller (the Tutor) sends one
claim per user, tier and month.
"""
from __future__ import annotations

from dataclasses import dataclass

from core.app.ports import Ledger
from core.ledger.grants import grant_request_id, monthly_grant
from core.ledger.model import Balance, Movement

RECENT = 5


@dataclass(frozen=True)
class WalletSummary:
    balance: Balance
    recent: list[Movement]


class WalletView:
    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self._claimed: set[str] = set()

    async def claim_grant(self, user_id: int, tier: str) -> None:
        """This month's grant of `tier` for the user, once (LedgerError when the wallet refuses)."""
        request_id = grant_request_id(user_id, tier)
        if request_id in self._claimed:
            return
        await self.ledger.grant(user_id, monthly_grant(tier), request_id, memo=f"{tier} monthly grant")
        self._claimed.add(request_id)

    async def balance(self, user_id: int, tier: str) -> Balance:
        await self.claim_grant(user_id, tier)
        return await self.ledger.balance(user_id)

    async def summary(self, user_id: int, tier: str, recent: int = RECENT) -> WalletSummary:
        balance = await self.balance(user_id, tier)
        return WalletSummary(balance, await self.ledger.movements(user_id, limit=recent))

    async def history(self, user_id: int, tier: str, *, limit: int = 20,
                      before_id: int | None = None) -> list[Movement]:
        await self.claim_grant(user_id, tier)
        return await self.ledger.movements(user_id, limit=limit, before_id=before_id)
